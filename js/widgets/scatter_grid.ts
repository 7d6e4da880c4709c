// ScatterGrid view: one canvas cell per prompt, coloured by state or by worker, an overall
// progress bar and a detail pane; fed by throttled columnar diffs (agentfm_nb/widgets/scatter_grid.py).
import { ColumnTable, type Diff, type Snapshot } from "../shared/columnar";
import { BASE_CSS, type Buffers, h, injectStyle } from "../shared/dom";
import { RateMeter } from "../shared/eta";
import { formatDuration, formatRate, shortPeerId } from "../shared/format";

export const STATES = ["queued", "running", "retrying", "done", "failed", "cancelled"] as const;
const STATE_COLORS = ["#d4d4d8", "#60a5fa", "#f59e0b", "#22c55e", "#ef4444", "#71717a"];
const WORKER_COLORS = ["#6366f1", "#14b8a6", "#f97316", "#ec4899", "#84cc16", "#06b6d4", "#a855f7", "#eab308", "#0ea5e9", "#f43f5e"];
const CELL = 11;
const GAP = 2;

const CSS = `
.afm-sg .afm-sg-progress { position: relative; height: 16px; background: var(--afm-bg2); border-radius: 3px; overflow: hidden; flex: 1 1 200px; }
.afm-sg .afm-sg-progress > i { position: absolute; top: 0; bottom: 0; left: 0; background: #22c55e; }
.afm-sg .afm-sg-progress > i.f { background: #ef4444; }
.afm-sg .afm-sg-stats { font-variant-numeric: tabular-nums; }
.afm-sg canvas { display: block; cursor: pointer; }
.afm-sg .afm-sg-canvas-wrap { max-height: 320px; overflow-y: auto; margin: 4px 0; }
.afm-sg .afm-sg-legend span { display: inline-flex; align-items: center; gap: 3px; margin-right: 8px; }
.afm-sg .afm-sg-legend i { width: 10px; height: 10px; display: inline-block; border-radius: 2px; }
.afm-sg .afm-sg-detail { border: 1px solid var(--afm-border); border-radius: 3px; padding: 6px; white-space: pre-wrap;
  max-height: 220px; overflow: auto; font-family: var(--jp-code-font-family, monospace); }
`;

interface Progress {
  total?: number;
  done?: number;
  failed?: number;
  cancelled?: number;
  running?: number;
  elapsed?: number;
  rate?: number | null;
  eta?: number | null;
  state?: string;
}
interface WorkerRef {
  peer_id: string;
  name: string;
}
interface Detail {
  kind: "detail";
  index: number;
  prompt: string;
  state: string;
  text?: string;
  error?: string | null;
  worker_id?: string | null;
  attempts?: number;
  latency_s?: number | null;
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  injectStyle("afm-base-css", BASE_CSS);
  injectStyle("afm-sg-css", CSS);
  const cells = new ColumnTable();
  const meter = new RateMeter(0.3);
  let colorBy: "state" | "worker" = "state";
  let selectedIdx = -1;
  let frame = 0;
  let resyncAsked = false;
  let latest: Progress = model.get("progress") ?? {};

  const barDone = h("i");
  const barFail = h("i", { class: "f" });
  const bar = h("div", { class: "afm-sg-progress" }, barDone, barFail);
  const stats = h("span", { class: "afm-sg-stats" });
  const stopBtn = h("button", { text: "Stop" });
  const retryBtn = h("button", { text: "Retry failed" });
  const colorSel = h("select", {}, h("option", { value: "state", text: "colour by state" }), h("option", { value: "worker", text: "colour by worker" }));
  const legend = h("div", { class: "afm-bar afm-sg-legend" });
  const canvas = h("canvas");
  const wrap = h("div", { class: "afm-sg-canvas-wrap" }, canvas);
  const detail = h("div", { class: "afm-sg-detail", text: "Click a cell to see its prompt and result." });
  const root = h("div", { class: "afm afm-sg" }, h("div", { class: "afm-bar" }, bar, stats, stopBtn, retryBtn, colorSel), legend, wrap, detail);
  el.append(root);

  function schedule(): void {
    if (!frame) frame = requestAnimationFrame(paint);
  }

  function layout(): { cols: number } {
    const width = Math.max(200, wrap.clientWidth || root.clientWidth || 600);
    return { cols: Math.max(1, Math.floor((width + GAP) / (CELL + GAP))) };
  }

  function colorOf(i: number): string {
    const st = cells.num("state", i);
    if (colorBy === "worker") {
      const w = cells.num("worker", i);
      if (w > 0 && st !== 0) return WORKER_COLORS[(w - 1) % WORKER_COLORS.length] as string;
    }
    return STATE_COLORS[st] ?? "#000";
  }

  function paintLegend(): void {
    const items: [string, string][] =
      colorBy === "state"
        ? STATES.map((s, i) => [s, STATE_COLORS[i] as string])
        : (model.get("workers") as WorkerRef[]).map((w, i) => [w.name || shortPeerId(w.peer_id), WORKER_COLORS[i % WORKER_COLORS.length] as string]);
    const counts = new Array(STATES.length).fill(0);
    const st = cells.cols.state;
    if (st) for (let i = 0; i < cells.n; i++) counts[st[i] as number] += 1;
    legend.replaceChildren(
      ...items.map(([label, color], i) =>
        h("span", {}, h("i", { style: `background:${color}` }), colorBy === "state" ? `${label} ${counts[i]}` : label),
      ),
    );
  }

  function paintProgress(): void {
    const p = latest;
    const total = p.total ?? cells.n;
    const done = p.done ?? 0;
    const failed = p.failed ?? 0;
    const finished = done + failed + (p.cancelled ?? 0);
    const smoothed = meter.update(finished, p.elapsed ?? 0) ?? p.rate ?? null;
    const elapsed = p.elapsed ?? 0;
    // once the run has ended, the honest figure is its average rate, not the last smoothed one
    const rate = p.state !== "running" && elapsed > 0 ? finished / elapsed : smoothed;
    const eta = p.state === "running" && rate ? (total - finished) / rate : null;
    barDone.style.width = `${total ? (100 * done) / total : 0}%`;
    barFail.style.left = barDone.style.width;
    barFail.style.width = `${total ? (100 * failed) / total : 0}%`;
    stats.textContent = `${finished}/${total} · ${formatRate(rate)} · ${formatDuration(p.elapsed ?? 0)} elapsed · ETA ${
      eta == null ? "–" : formatDuration(eta)
    }${failed ? ` · ${failed} failed` : ""}${p.state && p.state !== "running" ? ` · ${p.state}` : ""}`;
    const running = p.state === "running";
    stopBtn.disabled = !running;
    retryBtn.disabled = running || failed === 0;
  }

  function paint(): void {
    frame = 0;
    const { cols } = layout();
    const rows = Math.ceil(cells.n / cols);
    const dpr = window.devicePixelRatio || 1;
    const w = cols * (CELL + GAP);
    const hgt = Math.max(CELL, rows * (CELL + GAP));
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(hgt * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${hgt}px`;
    }
    const ctx = canvas.getContext("2d");
    if (ctx) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, hgt);
      for (let i = 0; i < cells.n; i++) {
        ctx.fillStyle = colorOf(i);
        ctx.fillRect((i % cols) * (CELL + GAP), Math.floor(i / cols) * (CELL + GAP), CELL, CELL);
      }
      if (selectedIdx >= 0 && selectedIdx < cells.n) {
        ctx.strokeStyle = "#111";
        ctx.lineWidth = 2;
        ctx.strokeRect((selectedIdx % cols) * (CELL + GAP) - 1, Math.floor(selectedIdx / cols) * (CELL + GAP) - 1, CELL + 2, CELL + 2);
      }
    }
    canvas.dataset.cells = String(cells.n);
    paintLegend();
    paintProgress();
  }

  function showDetail(d: Detail): void {
    selectedIdx = d.index;
    const lines = [`#${d.index} · ${d.state}${d.worker_id ? ` · ${d.worker_id}` : ""}${d.attempts ? ` · attempts ${d.attempts}` : ""}`, "", `Prompt:\n${d.prompt}`];
    if (d.text) lines.push("", `Result:\n${d.text}`);
    if (d.error) lines.push("", `Error:\n${d.error}`);
    detail.textContent = lines.join("\n");
    schedule();
  }

  const onMsg = (msg: (Diff | Snapshot | Detail) & { progress?: Progress }, buffers: Buffers) => {
    if (msg.progress) latest = msg.progress;
    if (msg.kind === "diff") {
      if (!cells.applyDiff(msg, buffers)) {
        if (!resyncAsked) model.send({ kind: "resync" });
        resyncAsked = true;
        return;
      }
    } else if (msg.kind === "snapshot") {
      if (msg.seq >= cells.seq) cells.applySnapshot(msg, buffers);
      resyncAsked = false;
    } else if (msg.kind === "detail") {
      showDetail(msg);
      return;
    }
    schedule();
  };
  const onTrait = () => {
    const snap = model.get("_cells") as Snapshot | null;
    if (snap && typeof snap.n === "number" && snap.seq >= cells.seq) cells.applySnapshot(snap);
    schedule();
  };
  model.on("msg:custom", onMsg);
  model.on("change:_cells", onTrait);
  const onProgress = () => {
    latest = model.get("progress") ?? {};
    schedule();
  };
  model.on("change:progress", onProgress);
  model.on("change:workers", schedule);
  canvas.addEventListener("click", (ev) => {
    const rect = canvas.getBoundingClientRect();
    const { cols } = layout();
    const col = Math.floor((ev.clientX - rect.left) / (CELL + GAP));
    const row = Math.floor((ev.clientY - rect.top) / (CELL + GAP));
    const idx = row * cols + col;
    if (col < cols && idx >= 0 && idx < cells.n) {
      selectedIdx = idx;
      detail.textContent = `#${idx} · ${STATES[cells.num("state", idx)] ?? "?"} (loading…)`;
      model.send({ kind: "detail", index: idx });
      schedule();
    }
  });
  stopBtn.addEventListener("click", () => model.send({ kind: "stop" }));
  retryBtn.addEventListener("click", () => model.send({ kind: "retry_failed" }));
  colorSel.addEventListener("change", () => {
    colorBy = colorSel.value === "worker" ? "worker" : "state";
    schedule();
  });
  const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(schedule) : null;
  ro?.observe(wrap);

  onTrait();
  model.send({ kind: "resync" });
  return () => {
    ro?.disconnect();
    if (frame) cancelAnimationFrame(frame);
    model.off("msg:custom", onMsg);
    model.off("change:_cells", onTrait);
    model.off("change:progress", onProgress);
    model.off("change:workers", schedule);
  };
}

export default { render };
