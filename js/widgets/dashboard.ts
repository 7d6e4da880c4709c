// MeshDashboard view: tasks/min, p50/p95 latency, success rate and online workers as sparklines
// (agentfm_nb/widgets/dashboard.py). Samples arrive as `sample` messages and are appended; the
// saved `series` trait seeds the view (and is all a saved page has).
import { BASE_CSS, containKeys, h, setText, styleInto } from "../shared/dom";
import { formatDuration } from "../shared/format";
import { liveness } from "../shared/snapshot";
import { SPARK_CSS, type Sparkline, sparkline } from "../shared/sparkline";

const CSS = `
.afm-db { container-type: inline-size; }
.afm-db .afm-db-grid { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 8px 14px; }
.afm-db .afm-db-tile { border: 1px solid var(--afm-border); border-radius: 4px; padding: 4px 6px; min-width: 0; }
.afm-db .afm-spark-value { font-size: 15px; }
@container (max-width: 760px) { .afm-db .afm-db-grid { grid-template-columns: repeat(3, minmax(0, 1fr)); } }
@container (max-width: 480px) { .afm-db .afm-db-grid { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
`;

type Key = "tasks_per_min" | "p50_s" | "p95_s" | "success_rate" | "online";
const KEYS: Key[] = ["tasks_per_min", "p50_s", "p95_s", "success_rate", "online"];
type Sample = Partial<Record<Key | "t", number | null>>;
type Series = Partial<Record<Key | "t", (number | null)[]>> & { window_s?: number };

// biome-ignore lint: anywidget model typing is structural
type Model = any;

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const root = h("div", { class: "afm afm-db", role: "region", "aria-label": "Mesh dashboard" });
  styleInto(el, BASE_CSS, SPARK_CSS, CSS);
  const releaseKeys = containKeys(root);
  const windowS = () => Number((model.get("series") as Series)?.window_s ?? 900);
  const secs = (v: number) => formatDuration(v);
  const sparks: Record<Key, Sparkline> = {
    tasks_per_min: sparkline({ label: "Tasks / min", min: 0, windowS: windowS(), format: (v) => v.toFixed(v < 10 ? 1 : 0) }),
    p50_s: sparkline({ label: "p50 latency", min: 0, windowS: windowS(), format: secs }),
    p95_s: sparkline({ label: "p95 latency", min: 0, windowS: windowS(), format: secs }),
    success_rate: sparkline({ label: "Success", min: 0, max: 1, windowS: windowS(), format: (v) => `${(v * 100).toFixed(v >= 0.995 ? 0 : 1)}%` }),
    online: sparkline({ label: "Online workers", min: 0, windowS: windowS(), format: (v) => v.toFixed(0) }),
  };
  const grid = h("div", { class: "afm-db-grid" });
  for (const k of KEYS) grid.append(h("div", { class: "afm-db-tile" }, sparks[k].el));
  const title = h("b", { text: "Mesh dashboard" });
  const where = h("span", { class: "afm-muted" });
  const note = h("span", { class: "afm-muted", role: "status" });
  const err = h("div", { class: "afm-banner err", hidden: true, role: "alert" });
  const live = liveness(model, () => paint());
  root.append(live.banner, h("div", { class: "afm-bar" }, title, where, note), err, grid);
  el.append(root);

  // Column arrays (oldest first); a sample appends, the trait replaces.
  let t: number[] = [];
  let cols: Record<Key, number[]> = { tasks_per_min: [], p50_s: [], p95_s: [], success_rate: [], online: [] };
  const num = (v: number | null | undefined) => (v == null ? Number.NaN : v);

  function load(): void {
    const s: Series = model.get("series") ?? {};
    t = (s.t ?? []).map((v) => num(v));
    cols = Object.fromEntries(KEYS.map((k) => [k, (s[k] ?? []).map(num)])) as Record<Key, number[]>;
  }

  function append(sample: Sample): void {
    const at = num(sample.t);
    if (!Number.isFinite(at) || (t.length && at <= (t[t.length - 1] as number))) return;
    t.push(at);
    for (const k of KEYS) cols[k].push(num(sample[k]));
    const cutoff = at - windowS();
    let drop = 0;
    while (drop < t.length && (t[drop] as number) < cutoff) drop++;
    if (drop) {
      t = t.slice(drop);
      for (const k of KEYS) cols[k] = cols[k].slice(drop);
    }
  }

  function paint(): void {
    const now = t.length ? (t[t.length - 1] as number) : undefined;
    for (const k of KEYS) {
      // the latest known value: a sample with no tasks in the minute has no latency
      sparks[k].update(t, cols[k], now);
    }
    const sum = model.get("summary") ?? {};
    setText(where, sum.gateway_url ? `at ${sum.gateway_url}` : "");
    const state = String(sum.state ?? "");
    const src = sum.latency_source === "histogram" ? "latency from the /metrics histogram (bucket estimate)" : "latency from task events";
    setText(note, state === "live" || live.snapshot ? `${Math.round(Number(sum.tasks_total ?? 0))} tasks so far · ${src}` : state);
    err.hidden = state !== "unreachable";
    setText(err, state === "unreachable" ? `Gateway unreachable: ${sum.error ?? ""}` : "");
  }

  let frame = 0;
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(() => {
      frame = 0;
      paint();
    });
  };
  const onSeries = () => {
    live.heard();
    load();
    schedule();
  };
  const onSummary = () => {
    live.heard();
    schedule();
  };
  const onMsg = (msg: { kind?: string; sample?: Sample }) => {
    if (msg?.kind !== "sample" || !msg.sample) return;
    append(msg.sample);
    schedule();
  };
  model.on("change:series", onSeries);
  model.on("change:summary", onSummary);
  model.on("msg:custom", onMsg);
  load();
  paint();
  return () => {
    if (frame) cancelAnimationFrame(frame);
    live.dispose();
    releaseKeys();
    model.off("change:series", onSeries);
    model.off("change:summary", onSummary);
    model.off("msg:custom", onMsg);
  };
}

export default { render };
