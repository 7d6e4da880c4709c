// ScatterGrid view: one canvas cell per prompt, coloured by state or by worker, an overall
// progress bar and a detail pane; fed by throttled columnar diffs (agentfm_nb/widgets/scatter_grid.py).
// Cells have tooltips and keyboard access (arrows move, Enter opens); colours come from the
// theme; a saved page answers detail clicks from the saved state.
import { ARTIFACT_CSS, type ArtifactCard, kernelFetcher, patchArtifactCards } from "../shared/artifact_cards";
import { ColumnTable, type Diff, type Snapshot } from "../shared/columnar";
import { BASE_CSS, type Buffers, containKeys, h, setAttr, setStyle, setText, styleInto } from "../shared/dom";
import { RateMeter } from "../shared/eta";
import { formatDuration, formatRate, shortPeerId } from "../shared/format";
import { liveness } from "../shared/snapshot";

export const STATES = ["queued", "running", "retrying", "done", "failed", "cancelled"] as const;
// theme variable and fallback per state
const STATE_VARS: [string, string][] = [
  ["--jp-layout-color3", "#bdbdbd"],
  ["--jp-brand-color1", "#1976d2"],
  ["--jp-warn-color1", "#f57c00"],
  ["--jp-success-color1", "#388e3c"],
  ["--jp-error-color1", "#d32f2f"],
  ["--jp-border-color1", "#757575"],
];
const WORKER_COLORS = ["#6366f1", "#14b8a6", "#f97316", "#ec4899", "#84cc16", "#06b6d4", "#a855f7", "#eab308", "#0ea5e9", "#f43f5e"];
const LEGEND_MAX = WORKER_COLORS.length - 1; // the last colour slot is "other"
const OTHER = "#9e9e9e";
const CELL = 11;
const GAP = 2;

const CSS = `
.afm-sg .afm-sg-progress { position: relative; height: 16px; border: 1px solid var(--afm-border); border-radius: 3px; overflow: hidden; flex: 1 1 160px; min-width: 120px; }
.afm-sg .afm-sg-progress > i { position: absolute; top: 0; bottom: 0; left: 0; width: 0; background: var(--afm-ok); }
.afm-sg .afm-sg-progress > i.f { background: var(--afm-err); }
.afm-sg .afm-sg-stats { font-variant-numeric: tabular-nums; }
.afm-sg canvas { display: block; cursor: pointer; }
.afm-sg canvas:focus-visible { outline: 2px solid var(--afm-focus); outline-offset: 2px; }
.afm-sg .afm-sg-canvas-wrap { max-height: 320px; overflow-y: auto; margin: 4px 0; padding: 2px; }
.afm-sg .afm-sg-legend { max-height: 64px; overflow: hidden; }
.afm-sg .afm-sg-legend span { display: inline-flex; align-items: center; gap: 3px; margin-right: 8px; white-space: nowrap; }
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
  run_total?: number;
  run_finished?: number;
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
  agent?: string | null;
  attempts?: number;
  latency_s?: number | null;
  artifacts?: ArtifactCard[];
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const cells = new ColumnTable();
  const meter = new RateMeter(0.3);
  let colorBy: "state" | "worker" = "state";
  let selectedIdx = -1;
  let cursor = 0;
  let frame = 0;
  let resyncAsked = false;
  let latest: Progress = model.get("progress") ?? {};
  const live = liveness(model, () => schedule());
  const fetcher = kernelFetcher(model);

  const barDone = h("i");
  const barFail = h("i", { class: "f" });
  const bar = h("div", { class: "afm-sg-progress", role: "progressbar", "aria-label": "scatter progress", "aria-valuemin": 0 }, barDone, barFail);
  const stats = h("span", { class: "afm-sg-stats", role: "status" });
  const stopBtn = h("button", { type: "button", text: "Stop" });
  const retryBtn = h("button", { type: "button", text: "Retry failed" });
  const colorSel = h(
    "select",
    { "aria-label": "colour cells by" },
    h("option", { value: "state", text: "colour by state" }),
    h("option", { value: "worker", text: "colour by worker" }),
  );
  const legend = h("div", { class: "afm-bar afm-sg-legend", "aria-label": "legend" });
  const canvas = h("canvas", {
    tabindex: 0,
    role: "img",
    "aria-label": "One cell per prompt. Use the arrow keys to move and Enter to show a prompt's result.",
  });
  const wrap = h("div", { class: "afm-sg-canvas-wrap" }, canvas);
  const detailText = h("div", { text: "Click a cell (or focus the grid and press Enter) to see its prompt and result." });
  const detailArts = h("div", { class: "afm-arts", hidden: true });
  const detail = h("div", { class: "afm-sg-detail", "aria-live": "polite" }, detailText, detailArts);
  const root = h(
    "div",
    { class: "afm afm-sg", role: "region", "aria-label": "Scatter over the mesh" },
    live.banner,
    h("div", { class: "afm-bar" }, bar, stats, stopBtn, retryBtn, colorSel),
    legend,
    wrap,
    detail,
  );
  styleInto(el, BASE_CSS, ARTIFACT_CSS, CSS);
  el.append(root);
  const releaseKeys = containKeys(root);

  function schedule(): void {
    if (!frame) frame = requestAnimationFrame(paint);
  }

  function layout(): { cols: number } {
    const width = Math.max(120, (wrap.clientWidth || root.clientWidth || 600) - 4);
    return { cols: Math.max(1, Math.floor((width + GAP) / (CELL + GAP))) };
  }

  function themeColors(): string[] {
    const cs = getComputedStyle(root);
    return STATE_VARS.map(([v, fb]) => cs.getPropertyValue(v).trim() || fb);
  }

  /** worker code -> legend slot (top workers by cell count; the rest share "other"). */
  function workerSlots(): { slot: Map<number, number>; top: [number, number][]; others: number } {
    const counts = new Map<number, number>();
    const w = cells.cols.worker;
    if (w) for (let i = 0; i < cells.n; i++) if (w[i]) counts.set(w[i] as number, (counts.get(w[i] as number) ?? 0) + 1);
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const fits = ranked.length <= LEGEND_MAX + 1;
    const top = fits ? ranked : ranked.slice(0, LEGEND_MAX);
    const slot = new Map<number, number>(top.map(([code], i) => [code, i]));
    return { slot, top, others: ranked.length - top.length };
  }

  function workerName(code: number): string {
    const ref = (model.get("workers") as WorkerRef[] | undefined)?.[code - 1];
    return ref ? ref.name || shortPeerId(ref.peer_id) : "?";
  }

  const legendItems: HTMLElement[] = [];
  function paintLegend(colors: string[], slots: ReturnType<typeof workerSlots>): void {
    let items: [string, string][];
    if (colorBy === "state") {
      const counts = new Array(STATES.length).fill(0);
      const st = cells.cols.state;
      if (st) for (let i = 0; i < cells.n; i++) counts[st[i] as number] += 1;
      items = STATES.map((s, i) => [`${s} ${counts[i]}`, colors[i] as string]);
    } else {
      items = slots.top.map(([code, n], i) => [`${workerName(code)} ${n}`, WORKER_COLORS[i] as string]);
      if (slots.others > 0) items.push([`other (${slots.others} workers)`, OTHER]);
    }
    items.forEach(([label, color], i) => {
      let item = legendItems[i];
      if (!item) {
        item = h("span", {}, h("i"), h("b", { style: "font-weight:400" }));
        legendItems[i] = item;
        legend.append(item);
      }
      item.hidden = false;
      setStyle(item.firstElementChild as HTMLElement, "background", color);
      setText(item.lastElementChild as HTMLElement, label);
    });
    for (let i = items.length; i < legendItems.length; i++) (legendItems[i] as HTMLElement).hidden = true;
  }

  function paintProgress(): void {
    const p = latest;
    const total = p.total ?? cells.n;
    const done = p.done ?? 0;
    const failed = p.failed ?? 0;
    const finished = done + failed + (p.cancelled ?? 0);
    // the rate and ETA belong to the current run (a Retry failed re-runs only some prompts)
    const runTotal = p.run_total ?? total;
    const runFinished = p.run_finished ?? finished;
    const elapsed = p.elapsed ?? 0;
    const running = p.state === "running" && !live.snapshot;
    const smoothed = meter.update(runFinished, elapsed) ?? p.rate ?? null;
    // once the run has ended, the honest figure is its average rate, not the last smoothed one
    const rate = p.state !== "running" && elapsed > 0 ? runFinished / elapsed : smoothed;
    const eta = running && rate ? (runTotal - runFinished) / rate : null;
    setStyle(barDone, "width", `${total ? (100 * done) / total : 0}%`);
    setStyle(barFail, "left", barDone.style.width);
    setStyle(barFail, "width", `${total ? (100 * failed) / total : 0}%`);
    setAttr(bar, "aria-valuemax", String(total));
    setAttr(bar, "aria-valuenow", String(finished));
    const parts = [`${finished}/${total}`, formatRate(rate), `${formatDuration(elapsed)} elapsed`];
    if (p.state === "running") parts.push(`ETA ${eta == null ? "–" : formatDuration(eta)}`);
    if (failed) parts.push(`${failed} failed`);
    if (p.state && p.state !== "running") parts.push(p.state);
    setText(stats, parts.join(" · "));
    stopBtn.disabled = !running;
    retryBtn.disabled = live.snapshot || running || failed + (p.cancelled ?? 0) === 0;
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
    const colors = themeColors();
    const slots = workerSlots();
    const colorOf = (i: number): string => {
      const st = cells.num("state", i);
      if (colorBy === "worker" && st !== 0) {
        const code = cells.num("worker", i);
        if (code > 0) {
          const s = slots.slot.get(code);
          return s === undefined ? OTHER : (WORKER_COLORS[s] as string);
        }
      }
      return colors[st] ?? "#000";
    };
    const ctx = canvas.getContext("2d");
    if (ctx) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, hgt);
      for (let i = 0; i < cells.n; i++) {
        ctx.fillStyle = colorOf(i);
        ctx.fillRect((i % cols) * (CELL + GAP), Math.floor(i / cols) * (CELL + GAP), CELL, CELL);
      }
      const outline = getComputedStyle(root).color || "#000"; // the theme's text colour reads on its background
      for (const [idx, width] of [
        [selectedIdx, 2],
        [document.activeElement === canvas ? cursor : -1, 1],
      ] as [number, number][]) {
        if (idx < 0 || idx >= cells.n) continue;
        ctx.strokeStyle = outline;
        ctx.lineWidth = width;
        ctx.strokeRect((idx % cols) * (CELL + GAP) - 0.5, Math.floor(idx / cols) * (CELL + GAP) - 0.5, CELL + 1, CELL + 1);
      }
    }
    canvas.dataset.cells = String(cells.n);
    paintLegend(colors, slots);
    paintProgress();
  }

  function showDetail(d: Detail): void {
    selectedIdx = d.index;
    const who = d.agent ? `${d.agent}${d.worker_id ? ` (${shortPeerId(d.worker_id)})` : ""}` : d.worker_id ? shortPeerId(d.worker_id) : "";
    const lines = [
      `#${d.index} · ${d.state}${who ? ` · ${who}` : ""}${d.attempts ? ` · attempts ${d.attempts}` : ""}${d.latency_s != null ? ` · ${formatDuration(d.latency_s)}` : ""}`,
      "",
      `Prompt:\n${d.prompt}`,
    ];
    if (d.text) lines.push("", `Result:\n${d.text}`);
    if (d.error) lines.push("", `Error:\n${d.error}`);
    setText(detailText, lines.join("\n"));
    patchArtifactCards(detailArts, d.artifacts ?? [], live.snapshot ? null : (key) => fetcher.fetch(key));
    schedule();
  }

  function savedDetail(idx: number): Detail | null {
    const saved = (model.get("_details") ?? {}) as Record<string, Omit<Detail, "kind" | "index">>;
    const d = saved[String(idx)];
    return d ? { kind: "detail", index: idx, ...d } : null;
  }

  function tooltip(idx: number): string {
    const st = STATES[cells.num("state", idx)] ?? "?";
    const code = cells.num("worker", idx);
    const saved = savedDetail(idx);
    const prompt = saved?.prompt ? ` · ${saved.prompt.slice(0, 60)}` : "";
    return `#${idx} · ${st}${code ? ` · ${workerName(code)}` : ""}${prompt}`;
  }

  function open(idx: number): void {
    if (idx < 0 || idx >= cells.n) return;
    selectedIdx = idx;
    cursor = idx;
    const saved = savedDetail(idx);
    if (live.snapshot || saved) {
      if (saved) showDetail(saved);
      else setText(detailText, `${tooltip(idx)}\n\n(this snapshot saved no detail for this cell)`);
      if (live.snapshot) {
        schedule();
        return;
      }
    } else setText(detailText, `${tooltip(idx)} (loading…)`);
    model.send({ kind: "detail", index: idx });
    schedule();
  }

  function cellAt(ev: MouseEvent): number {
    const rect = canvas.getBoundingClientRect();
    const { cols } = layout();
    const col = Math.floor((ev.clientX - rect.left) / (CELL + GAP));
    const row = Math.floor((ev.clientY - rect.top) / (CELL + GAP));
    const idx = row * cols + col;
    return col < cols && idx >= 0 && idx < cells.n ? idx : -1;
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
  const onProgress = () => {
    live.heard();
    latest = model.get("progress") ?? {};
    schedule();
  };
  model.on("msg:custom", onMsg);
  model.on("change:_cells", onTrait);
  model.on("change:progress", onProgress);
  model.on("change:workers", schedule);
  canvas.addEventListener("click", (ev) => open(cellAt(ev)));
  canvas.addEventListener("mousemove", (ev) => {
    const idx = cellAt(ev);
    setAttr(canvas, "title", idx >= 0 ? tooltip(idx) : null);
  });
  canvas.addEventListener("keydown", (ev) => {
    const { cols } = layout();
    const moves: Record<string, number> = {
      ArrowRight: cursor + 1,
      ArrowLeft: cursor - 1,
      ArrowDown: cursor + cols,
      ArrowUp: cursor - cols,
      Home: 0,
      End: cells.n - 1,
    };
    if (ev.key in moves) {
      ev.preventDefault();
      cursor = Math.max(0, Math.min(cells.n - 1, moves[ev.key] as number));
      setAttr(canvas, "aria-label", `Cell ${tooltip(cursor)}. Enter shows its result.`);
      setAttr(canvas, "title", tooltip(cursor));
      schedule();
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      open(cursor);
    }
  });
  canvas.addEventListener("focus", schedule);
  canvas.addEventListener("blur", schedule);
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
    releaseKeys();
    live.dispose();
    fetcher.dispose();
    if (frame) cancelAnimationFrame(frame);
    model.off("msg:custom", onMsg);
    model.off("change:_cells", onTrait);
    model.off("change:progress", onProgress);
    model.off("change:workers", schedule);
  };
}

export default { render };
