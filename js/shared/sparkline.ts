// Sparklines: a small labelled line per metric (inspector telemetry, dashboard trends).
// Drawn on a canvas: redrawing 450 points is a fraction of a millisecond and never touches
// layout, where an SVG path of the same size cost several ms of style and paint per update.
// An update creates no nodes (two text writes and a redraw), so live views do not churn.
import { h, setAttr, setText } from "./dom";

const H = 36;

export const SPARK_CSS = `
.afm-spark { display: flex; flex-direction: column; gap: 1px; min-width: 0; }
.afm-spark-head { display: flex; justify-content: space-between; gap: 6px; font-size: 11px; }
.afm-spark-label { color: var(--afm-muted, var(--jp-ui-font-color2, CanvasText)); }
.afm-spark-value { font-variant-numeric: tabular-nums; font-weight: 600; }
.afm-spark canvas { display: block; width: 100%; height: ${H}px;
  color: var(--afm-info, var(--jp-brand-color1, LinkText)); border-bottom: 1px solid var(--afm-border, GrayText); }
`;

export interface SparkOptions {
  label: string;
  /** Text of the latest value ("42%", "3/4"). */
  format?: (v: number) => string;
  /** Fixed y range; otherwise [0, max seen] (never a zero-height range). */
  min?: number;
  max?: number;
  /** Seconds of x axis shown (points older than this fall off the left edge). */
  windowS?: number;
}

export interface Sparkline {
  readonly el: HTMLElement;
  /** `t` in seconds (any epoch), `v` the values; both the same length, oldest first. */
  update(t: ArrayLike<number>, v: ArrayLike<number>, now?: number): void;
}

/**
 * The points scaled into a `w`×`h` box, as flat [x0, y0, x1, y1, ...]; non-finite values and
 * points left of the window are skipped (exported for unit tests).
 */
export function sparkPoints(
  t: ArrayLike<number>,
  v: ArrayLike<number>,
  w: number,
  h: number,
  { min, max, windowS, now }: { min?: number; max?: number; windowS?: number; now?: number } = {},
): number[] {
  const n = Math.min(t.length, v.length);
  if (n === 0) return [];
  const end = now ?? (t[n - 1] as number);
  // The x axis spans the data (at least a minute) until the window is full, so a view opened
  // a few seconds ago draws a curve, not a sliver at the right edge.
  const start = windowS ? Math.max(end - windowS, Math.min(t[0] as number, end - 60)) : (t[0] as number);
  const span = Math.max(end - start, 1e-9);
  let lo = min ?? 0;
  let hi = max ?? Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const x = v[i] as number;
    if (!Number.isFinite(x)) continue;
    if (max === undefined) hi = Math.max(hi, x);
    if (min === undefined) lo = Math.min(lo, x);
  }
  if (!Number.isFinite(hi) || hi <= lo) hi = lo + 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const ti = t[i] as number;
    const vi = v[i] as number;
    if (ti < start || !Number.isFinite(vi)) continue;
    out.push(((ti - start) / span) * w, h - ((Math.min(Math.max(vi, lo), hi) - lo) / (hi - lo)) * h);
  }
  return out;
}

/**
 * At most two points (the extremes, in order) per pixel column: a 450-sample curve on a
 * 180 px canvas draws the same picture with a fraction of the path.
 */
export function decimate(pts: number[]): number[] {
  if (pts.length <= 4) return pts;
  const out: number[] = [];
  let col = Math.floor(pts[0] as number);
  let lo = -1;
  let hi = -1;
  const flush = () => {
    if (lo < 0) return;
    const [a, b] = lo <= hi ? [lo, hi] : [hi, lo];
    out.push(pts[a] as number, pts[a + 1] as number);
    if (b !== a) out.push(pts[b] as number, pts[b + 1] as number);
  };
  for (let i = 0; i < pts.length; i += 2) {
    const c = Math.floor(pts[i] as number);
    if (c !== col) {
      flush();
      col = c;
      lo = hi = -1;
    }
    // canvas y grows downwards: the highest value has the smallest y
    if (lo < 0 || (pts[i + 1] as number) > (pts[lo + 1] as number)) lo = i;
    if (hi < 0 || (pts[i + 1] as number) < (pts[hi + 1] as number)) hi = i;
  }
  flush();
  return out;
}

export function sparkline(opts: SparkOptions): Sparkline {
  const fmt = opts.format ?? ((v: number) => (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)));
  const value = h("span", { class: "afm-spark-value", text: "–" });
  const label = h("span", { class: "afm-spark-label", text: opts.label });
  const canvas = h("canvas", { "aria-hidden": "true" });
  const el = h("div", { class: "afm-spark", role: "img", "aria-label": `${opts.label}: no samples yet` });
  el.append(h("div", { class: "afm-spark-head" }, label, value), canvas);
  let last: { t: ArrayLike<number>; v: ArrayLike<number>; now?: number } = { t: [], v: [] };
  let colour = "";
  let colourAt = 0;
  let width = 0; // from the ResizeObserver: reading clientWidth here would force a layout

  function draw(): void {
    const w = width;
    if (!w) return; // not laid out yet (or a hidden pane): drawn when it gets a size
    const ratio = window.devicePixelRatio || 1;
    const pw = Math.round(w * ratio);
    const ph = Math.round(H * ratio);
    if (canvas.width !== pw || canvas.height !== ph) {
      canvas.width = pw;
      canvas.height = ph;
    }
    // The theme colour, read at most every 2 s: reading computed style each frame would force
    // a style pass in the middle of other widgets' updates.
    const now = performance.now();
    if (!colour || now - colourAt > 2000) {
      colour = getComputedStyle(canvas).color || "#1976d2";
      colourAt = now;
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, H);
    const pts = decimate(
      sparkPoints(last.t, last.v, w, H - 2, { min: opts.min, max: opts.max, windowS: opts.windowS, now: last.now }),
    );
    if (pts.length < 2) return;
    ctx.beginPath();
    ctx.moveTo(pts.length === 2 ? Math.max(0, (pts[0] as number) - 4) : (pts[0] as number), (pts[1] as number) + 1);
    for (let i = 0; i < pts.length; i += 2) ctx.lineTo(pts[i] as number, (pts[i + 1] as number) + 1);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }

  // Redraw when the width changes (a resized output area, a pane that was hidden).
  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver((entries) => {
      width = Math.round(entries[entries.length - 1]?.contentRect.width ?? 0);
      draw();
    }).observe(canvas);
  }

  return {
    el,
    update(t, v, now) {
      last = { t, v, now };
      draw();
      // the latest known value (a minute with no finished task has no latency)
      const n = Math.min(t.length, v.length);
      let latest = Number.NaN;
      let peak = Number.NEGATIVE_INFINITY;
      let count = 0;
      for (let i = 0; i < n; i++) {
        const x = v[i] as number;
        if (!Number.isFinite(x)) continue;
        latest = x;
        peak = Math.max(peak, x);
        count++;
      }
      const text = count ? fmt(latest) : "–";
      setText(value, text);
      const summary = count ? `${opts.label}: now ${text}, peak ${fmt(peak)} over ${count} samples` : `${opts.label}: no samples yet`;
      setAttr(el, "aria-label", summary);
      setAttr(el, "title", summary);
    },
  };
}
