// Sparklines: a small labelled SVG line per metric (inspector telemetry, dashboard trends).
// An update rewrites one path's `d` and two texts in place: no nodes are created, so a live
// view at 1 Hz costs one attribute write per series and text selections elsewhere survive.
import { h, setAttr, setText } from "./dom";

const SVG = "http://www.w3.org/2000/svg";
const W = 160;
const H = 36;

export const SPARK_CSS = `
.afm-spark { display: inline-flex; flex-direction: column; gap: 1px; min-width: 0; }
.afm-spark-head { display: flex; justify-content: space-between; gap: 6px; font-size: 11px; }
.afm-spark-label { color: var(--afm-muted, var(--jp-ui-font-color2, GrayText)); }
.afm-spark-value { font-variant-numeric: tabular-nums; font-weight: 600; }
.afm-spark svg { display: block; width: 100%; height: ${H}px; overflow: visible; }
.afm-spark .afm-spark-area { fill: var(--afm-info, var(--jp-brand-color1, Highlight)); fill-opacity: .14; stroke: none; }
.afm-spark .afm-spark-line { fill: none; stroke: var(--afm-info, var(--jp-brand-color1, Highlight)); stroke-width: 1.5;
  vector-effect: non-scaling-stroke; stroke-linejoin: round; }
.afm-spark .afm-spark-base { stroke: var(--afm-border, var(--jp-border-color2, GrayText)); stroke-width: 1; vector-effect: non-scaling-stroke; }
.afm-spark.empty .afm-spark-line, .afm-spark.empty .afm-spark-area { display: none; }
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

/** The SVG path of the points, scaled into a W×H box (exported for unit tests). */
export function sparkPath(
  t: ArrayLike<number>,
  v: ArrayLike<number>,
  { min, max, windowS, now }: { min?: number; max?: number; windowS?: number; now?: number } = {},
): { line: string; area: string } {
  const n = Math.min(t.length, v.length);
  if (n === 0) return { line: "", area: "" };
  const end = now ?? (t[n - 1] as number);
  // The x axis spans the data (at least a minute) until the window is full, so a view opened
  // a few seconds ago draws a curve, not a sliver at the right edge.
  const start = windowS ? Math.max(end - windowS, Math.min(t[0] as number, end - 60)) : (t[0] as number);
  const span = Math.max(end - start, 1e-9);
  let lo = min ?? 0;
  let hi = max ?? Number.NEGATIVE_INFINITY;
  if (max === undefined) for (let i = 0; i < n; i++) hi = Math.max(hi, v[i] as number);
  if (min === undefined) for (let i = 0; i < n; i++) lo = Math.min(lo, v[i] as number);
  if (!Number.isFinite(hi) || hi <= lo) hi = lo + 1;
  const x = (s: number) => (((s - start) / span) * W).toFixed(1);
  const y = (val: number) => (H - ((Math.min(Math.max(val, lo), hi) - lo) / (hi - lo)) * H).toFixed(1);
  const parts: string[] = [];
  let first = -1;
  for (let i = 0; i < n; i++) {
    const ti = t[i] as number;
    const vi = v[i] as number;
    if (ti < start || !Number.isFinite(vi)) continue;
    if (first < 0) first = i;
    parts.push(`${parts.length ? "L" : "M"}${x(ti)} ${y(vi)}`);
  }
  if (!parts.length) return { line: "", area: "" };
  // a single point still shows: a short flat stroke ending at it
  if (parts.length === 1) {
    const px = Number(x(t[first] as number));
    const py = y(v[first] as number);
    parts.splice(0, 1, `M${Math.max(0, px - 4).toFixed(1)} ${py}`, `L${px.toFixed(1)} ${py}`);
  }
  const line = parts.join("");
  const lastX = x(t[n - 1] as number);
  const firstX = x(t[first] as number);
  return { line, area: `${line}L${lastX} ${H}L${firstX} ${H}Z` };
}

export function sparkline(opts: SparkOptions): Sparkline {
  const fmt = opts.format ?? ((v: number) => (Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)));
  const value = h("span", { class: "afm-spark-value", text: "–" });
  const label = h("span", { class: "afm-spark-label", text: opts.label });
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  const base = document.createElementNS(SVG, "line");
  for (const [k, val] of [["x1", "0"], ["x2", String(W)], ["y1", String(H)], ["y2", String(H)]]) base.setAttribute(k as string, val as string);
  base.setAttribute("class", "afm-spark-base");
  const area = document.createElementNS(SVG, "path");
  area.setAttribute("class", "afm-spark-area");
  const line = document.createElementNS(SVG, "path");
  line.setAttribute("class", "afm-spark-line");
  svg.append(base, area, line);
  const el = h("div", { class: "afm-spark empty", role: "img", "aria-label": `${opts.label}: no samples yet` });
  el.append(h("div", { class: "afm-spark-head" }, label, value), svg as unknown as HTMLElement);

  return {
    el,
    update(t, v, now) {
      const n = Math.min(t.length, v.length);
      const { line: d, area: a } = sparkPath(t, v, { min: opts.min, max: opts.max, windowS: opts.windowS, now });
      setAttr(line, "d", d || null);
      setAttr(area, "d", a || null);
      el.classList.toggle("empty", !d);
      // the latest known value (a minute with no finished task has no latency)
      let last = Number.NaN;
      let peak = Number.NEGATIVE_INFINITY;
      let count = 0;
      for (let i = 0; i < n; i++) {
        const x = v[i] as number;
        if (!Number.isFinite(x)) continue;
        last = x;
        peak = Math.max(peak, x);
        count++;
      }
      const latest = count ? fmt(last) : "–";
      setText(value, latest);
      const summary = count ? `${opts.label}: now ${latest}, peak ${fmt(peak)} over ${count} samples` : `${opts.label}: no samples yet`;
      setAttr(el, "aria-label", summary);
      setAttr(el, "title", summary);
    },
  };
}
