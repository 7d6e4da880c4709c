// Smoothed rate and ETA, tqdm-like: an exponential moving average of the per-interval rate.

export class RateMeter {
  private rate: number | null = null;
  private lastN = 0;
  private lastT: number | null = null;

  constructor(private readonly smoothing = 0.3) {}

  /** Record that `n` items are complete at time `t` (seconds); returns the smoothed rate. */
  update(n: number, t: number): number | null {
    if (this.lastT === null) {
      this.lastT = t;
      this.lastN = n;
      return this.rate;
    }
    const dt = t - this.lastT;
    const dn = n - this.lastN;
    if (dt <= 0 || dn <= 0) return this.rate;
    const inst = dn / dt;
    this.rate = this.rate === null ? inst : this.smoothing * inst + (1 - this.smoothing) * this.rate;
    this.lastT = t;
    this.lastN = n;
    return this.rate;
  }

  eta(remaining: number): number | null {
    if (this.rate === null || this.rate <= 0) return null;
    return remaining / this.rate;
  }
}
