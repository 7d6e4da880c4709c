// WorkerTable view: a virtualized, sortable, filterable table of mesh workers fed by columnar
// binary snapshots and diffs from the kernel (agentfm_nb/widgets/worker_table.py).
// Rows are pooled and patched in place (an idle live table creates no DOM nodes), columns drop
// by priority to fit the output area, and header and rows scroll sideways together.
import { ColumnTable, type Diff, type Snapshot, orderRows } from "../shared/columnar";
import { BASE_CSS, type Buffers, containKeys, h, setAttr, setStyle, setText, styleInto } from "../shared/dom";
import { formatAgo, formatGb, formatPercent, shortPeerId } from "../shared/format";
import { liveness } from "../shared/snapshot";

const ROW_H = 26;
const BODY_H = 360;
const OVERSCAN = 8;
const STATUS = ["AVAILABLE", "BUSY", "OFFLINE"];
const CHECK_W = 24;
const GAP = 6;
const PAD = 12;

interface Column {
  key: string;
  label: string;
  sortKey: string;
  width: number; // minimum px
  grow: number; // share of spare width
  priority: number; // 1 is kept longest
}
const COLUMNS: Column[] = [
  { key: "name", label: "Name", sortKey: "name", width: 120, grow: 2, priority: 1 },
  { key: "engine", label: "Engine", sortKey: "engine", width: 80, grow: 1, priority: 2 },
  { key: "author", label: "Author", sortKey: "author", width: 70, grow: 0.5, priority: 7 },
  { key: "status", label: "Status", sortKey: "status", width: 92, grow: 0, priority: 1 },
  { key: "load", label: "Load", sortKey: "load", width: 68, grow: 0, priority: 1 },
  { key: "cpu", label: "CPU", sortKey: "cpu", width: 48, grow: 0, priority: 3 },
  { key: "ram", label: "RAM free", sortKey: "ram", width: 64, grow: 0, priority: 6 },
  { key: "gpu", label: "GPU", sortKey: "gpu_pct", width: 48, grow: 0, priority: 5 },
  { key: "honesty", label: "Honesty", sortKey: "honesty", width: 58, grow: 0, priority: 6 },
  { key: "last_seen", label: "Seen", sortKey: "last_seen", width: 58, grow: 0, priority: 4 },
  { key: "peer_id", label: "Peer", sortKey: "peer_id", width: 132, grow: 1, priority: 3 },
];

const CSS = `
.afm-wt { container-type: inline-size; }
.afm-wt .afm-wt-scroll { overflow-x: auto; overflow-y: hidden; max-width: 100%; }
.afm-wt .afm-wt-head, .afm-wt .afm-wt-row { display: grid; grid-template-columns: var(--afm-wt-cols);
  align-items: center; gap: 0 ${GAP}px; padding: 0 ${PAD / 2}px; }
.afm-wt .afm-wt-head { font-weight: 600; border-bottom: 1px solid var(--afm-border); height: 28px; }
.afm-wt .afm-wt-head button { border: 0; background: transparent; padding: 0; font-weight: 600; text-align: left;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; color: inherit; }
.afm-wt .afm-wt-body { position: relative; overflow-y: auto; overflow-x: hidden; height: ${BODY_H}px; }
.afm-wt .afm-wt-row { position: absolute; left: 0; right: 0; height: ${ROW_H}px; border-bottom: 1px solid var(--afm-bg2);
  color: var(--jp-ui-font-color1, CanvasText); }
.afm-wt .afm-wt-row > span { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.afm-wt .afm-wt-row:hover { background: var(--afm-bg2); }
.afm-wt .afm-wt-row.sel { background: var(--jp-layout-color3, Highlight); color: var(--jp-ui-font-color0, HighlightText);
  box-shadow: inset 3px 0 0 var(--afm-info); }
.afm-wt .afm-wt-row:focus { outline: 2px solid var(--afm-focus); outline-offset: -2px; }
.afm-wt .afm-wt-row.offline > span:not(.c-status), .afm-wt.stale .afm-wt-row > span:not(.c-status) { font-style: italic; }
.afm-wt .afm-load { position: relative; height: 14px; border: 1px solid var(--afm-border); border-radius: 2px; overflow: hidden; }
.afm-wt .afm-load > i { position: absolute; left: 0; top: 0; bottom: 0; width: 0; border-right: 2px solid var(--afm-info); }
.afm-wt .afm-load > b { position: relative; display: block; font-size: 10px; font-weight: 400; text-align: center; line-height: 12px; }
.afm-wt .afm-wt-row .c-peer_id button { padding: 0 4px; margin-left: 4px; font-size: 10px; }
.afm-wt .afm-wt-empty { padding: 12px; color: var(--afm-muted); }
.afm-wt .afm-wt-hidden { display: none !important; }
`;

interface Summary {
  online?: number;
  offline?: number;
  total?: number;
  slots?: number;
  busy_slots?: number;
  gateway_url?: string;
  state?: string;
  error?: string;
  retry_in?: number;
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

/** The columns that fit `width` px, dropping the lowest priority first. */
export function fitColumns(width: number): Column[] {
  let cols = COLUMNS.slice();
  const need = (cs: Column[]) => CHECK_W + PAD + cs.reduce((a, c) => a + c.width + GAP, 0);
  while (need(cols) > width) {
    const worst = Math.max(...cols.map((c) => c.priority));
    if (worst <= 1) break;
    const drop = cols.map((c) => c.priority).lastIndexOf(worst);
    cols = cols.filter((_, i) => i !== drop);
  }
  return cols;
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const table = new ColumnTable();
  let sortKey: string | null = "name";
  let descending = false;
  let filter = "";
  let availableOnly = Boolean(model.get("available_only"));
  let hideOffline = false;
  let order: Uint32Array = new Uint32Array(0);
  let dirty = true;
  let frame = 0;
  let resyncAsked = false;
  let shown: Column[] = COLUMNS;
  let focusRow = -1; // index in `order` of the row that has (or last had) keyboard focus
  const selected = new Set<string>(model.get("selected") ?? []);
  const live = liveness(model, () => {
    renderSummary();
    schedule();
  });

  const headline = h("b");
  const offlineEl = h("span");
  const slotsEl = h("span");
  const urlEl = h("span", { class: "afm-muted" });
  const stateEl = h("span", { class: "afm-muted" });
  const summaryEl = h("div", { class: "afm-bar", role: "status" }, headline, offlineEl, slotsEl, urlEl, stateEl);
  const banner = h("div", { class: "afm-banner", role: "alert", hidden: true });
  const search = h("input", { type: "search", placeholder: "filter name, engine, author, peer…", size: 28, "aria-label": "Filter workers" });
  const availBox = h("input", { type: "checkbox" });
  availBox.checked = availableOnly;
  const offBox = h("input", { type: "checkbox" });
  const countEl = h("span", { class: "afm-muted", "aria-live": "polite" });
  const clearSel = h("button", { type: "button", text: "clear selection" });
  const controls = h(
    "div",
    { class: "afm-bar" },
    search,
    h("label", {}, availBox, " available only"),
    h("label", {}, offBox, " hide offline"),
    clearSel,
    countEl,
  );
  const head = h("div", { class: "afm-wt-head", role: "row" }, h("span", { role: "columnheader", "aria-label": "selected" }));
  const headCells = new Map<string, { cell: HTMLElement; btn: HTMLButtonElement }>();
  for (const c of COLUMNS) {
    const btn = h("button", { type: "button", "data-key": c.sortKey, text: c.label, title: `sort by ${c.label}` });
    const cell = h("span", { role: "columnheader", class: `c-${c.key}` }, btn);
    btn.addEventListener("click", () => {
      if (sortKey === c.sortKey) descending = !descending;
      else {
        sortKey = c.sortKey;
        descending = false;
      }
      markDirty();
    });
    head.append(cell);
    headCells.set(c.key, { cell, btn });
  }
  const spacer = h("div", { style: "height:0px" });
  const body = h("div", { class: "afm-wt-body", role: "rowgroup" }, spacer);
  const grid = h("div", { role: "grid", "aria-label": "Mesh workers", "aria-multiselectable": "true" }, head, body);
  const scroller = h("div", { class: "afm-wt-scroll" }, grid);
  const empty = h("div", { class: "afm-wt-empty" });
  const root = h("div", { class: "afm afm-wt" }, live.banner, summaryEl, banner, controls, scroller, empty);
  styleInto(el, BASE_CSS, CSS);
  el.append(root);
  const releaseKeys = containKeys(root);

  const keep = (r: number): boolean => {
    if (table.num("present", r) === 0) return false;
    const st = table.num("status", r);
    if (availableOnly && st !== 0) return false;
    if (hideOffline && st === 2) return false;
    if (!filter) return true;
    for (const k of ["name", "engine", "author", "peer_id", "hardware"]) {
      if (table.str(k, r).toLowerCase().includes(filter)) return true;
    }
    return false;
  };

  function markDirty(): void {
    dirty = true;
    schedule();
  }
  function schedule(): void {
    if (!frame) frame = requestAnimationFrame(paint);
  }

  function stale(): boolean {
    const s: Summary = model.get("summary") ?? {};
    return s.state === "unreachable" || live.snapshot;
  }

  function renderSummary(): void {
    const s: Summary = model.get("summary") ?? {};
    const unreachable = s.state === "unreachable";
    setText(headline, unreachable ? `${s.online ?? 0} online when last seen` : `${s.online ?? 0} online`);
    setText(offlineEl, `${s.offline ?? 0} offline`);
    setText(slotsEl, `${s.busy_slots ?? 0}/${s.slots ?? 0} slots busy`);
    setText(urlEl, s.gateway_url ?? "");
    setText(stateEl, live.snapshot ? "· snapshot" : `· ${s.state && s.state !== "live" ? s.state : "live"}`);
    root.classList.toggle("stale", stale());
    if (unreachable && !live.snapshot) {
      banner.hidden = false;
      banner.className = "afm-banner err";
      const retry = s.retry_in ? ` Retrying in ${s.retry_in.toFixed(1)}s.` : "";
      setText(banner, `Gateway unreachable: ${s.error ?? "no answer"}.${retry} Rows show the last known state; their status is unknown.`);
    } else if (s.state === "stopped" && !live.snapshot) {
      banner.hidden = false;
      banner.className = "afm-banner info";
      setText(banner, "Live updates stopped.");
    } else banner.hidden = true;
  }

  function layout(): void {
    const width = scroller.clientWidth || root.clientWidth || 900;
    const fit = fitColumns(width);
    const keys = fit.map((c) => c.key).join(",");
    if (keys !== shown.map((c) => c.key).join(",") || !root.style.getPropertyValue("--afm-wt-cols")) {
      shown = fit;
      const tracks = [`${CHECK_W}px`, ...fit.map((c) => (c.grow ? `minmax(${c.width}px, ${c.grow}fr)` : `${c.width}px`))];
      setStyle(root, "--afm-wt-cols", tracks.join(" "));
      const minW = CHECK_W + PAD + fit.reduce((a, c) => a + c.width + GAP, 0);
      setStyle(grid, "min-width", `${minW}px`);
      const on = new Set(fit.map((c) => c.key));
      for (const c of COLUMNS) headCells.get(c.key)?.cell.classList.toggle("afm-wt-hidden", !on.has(c.key));
      for (const row of pool) for (const c of COLUMNS) row.cells.get(c.key)?.classList.toggle("afm-wt-hidden", !on.has(c.key));
    }
  }

  interface PooledRow {
    el: HTMLElement;
    check: HTMLInputElement;
    cells: Map<string, HTMLElement>;
    badge: HTMLElement;
    bar: HTMLElement;
    barText: HTMLElement;
    peerCode: HTMLElement;
    copy: HTMLButtonElement;
    k: number;
  }
  const pool: PooledRow[] = [];

  function toggle(peer: string): void {
    if (!peer) return;
    if (selected.has(peer)) selected.delete(peer);
    else selected.add(peer);
    model.set("selected", [...selected]);
    model.save_changes();
    markDirty();
  }

  function rowAt(i: number): PooledRow {
    let p = pool[i];
    if (p) return p;
    const el = h("div", { class: "afm-wt-row", role: "row", tabindex: -1, "aria-selected": "false" });
    const check = h("input", { type: "checkbox", tabindex: -1, "aria-label": "select worker" });
    el.append(h("span", { role: "gridcell" }, check));
    const cells = new Map<string, HTMLElement>();
    const on = new Set(shown.map((c) => c.key));
    for (const c of COLUMNS) {
      const cell = h("span", { role: "gridcell", class: `c-${c.key}${on.has(c.key) ? "" : " afm-wt-hidden"}` });
      cells.set(c.key, cell);
      el.append(cell);
    }
    const badge = h("span", { class: "afm-badge" });
    cells.get("status")?.append(badge);
    const barFill = h("i");
    const barText = h("b");
    const bar = h("div", { class: "afm-load" }, barFill, barText);
    cells.get("load")?.append(bar);
    const peerCode = h("code");
    const copy = h("button", { type: "button", tabindex: -1, title: "copy peer id", text: "copy" });
    cells.get("peer_id")?.append(peerCode, copy);
    p = { el, check, cells, badge, bar: barFill, barText, peerCode, copy, k: -1 };
    const row = p;
    copy.addEventListener("click", (ev) => {
      ev.stopPropagation();
      const peer = row.el.dataset.peer ?? "";
      void navigator.clipboard?.writeText(peer).then(
        () => setText(copy, "copied"),
        () => setText(copy, "select"),
      );
    });
    el.addEventListener("click", () => {
      focusRow = row.k;
      toggle(row.el.dataset.peer ?? "");
    });
    el.addEventListener("focus", () => {
      focusRow = row.k;
    });
    pool[i] = p;
    body.append(el);
    return p;
  }

  function fillRow(p: PooledRow, r: number, now: number, isStale: boolean): void {
    const peer = table.str("peer_id", r);
    if (p.el.dataset.peer !== peer) p.el.dataset.peer = peer;
    const sel = selected.has(peer);
    p.el.classList.toggle("sel", sel);
    setAttr(p.el, "aria-selected", sel ? "true" : "false");
    if (p.check.checked !== sel) p.check.checked = sel;
    const st = table.num("status", r);
    const cur = table.num("cur", r);
    const max = table.num("max", r);
    const set = (key: string, text: string, title?: string) => {
      const c = p.cells.get(key) as HTMLElement;
      setText(c, text);
      if (title !== undefined) setAttr(c, "title", title);
    };
    const name = table.str("name", r);
    set("name", name, table.str("hardware", r));
    set("engine", table.str("engine", r));
    set("author", table.str("author", r));
    const label = isStale && st !== 2 ? "UNKNOWN" : (STATUS[st] ?? "?");
    setText(p.badge, label);
    p.badge.className = `afm-badge b-${label.toLowerCase()}`;
    p.el.classList.toggle("offline", st === 2);
    const pct = max > 0 ? Math.min(100, (100 * cur) / max) : 0;
    setStyle(p.bar, "width", `${pct}%`);
    setText(p.barText, `${cur}/${max}`);
    set("cpu", formatPercent(table.num("cpu", r)));
    set("ram", formatGb(table.num("ram", r)));
    const hasGpu = table.num("has_gpu", r) > 0;
    set(
      "gpu",
      hasGpu ? formatPercent(table.num("gpu_pct", r)) : "–",
      hasGpu ? `${table.num("gpu_used", r).toFixed(1)}/${table.num("gpu_total", r).toFixed(1)} GB` : "no GPU",
    );
    set("honesty", table.num("honesty", r).toFixed(2));
    set("last_seen", formatAgo(table.num("last_seen", r), now));
    setAttr(p.cells.get("peer_id") as HTMLElement, "title", peer);
    setText(p.peerCode, shortPeerId(peer));
    setAttr(p.el, "aria-label", `${name}, ${label}, load ${cur} of ${max}`);
  }

  function paint(): void {
    frame = 0;
    layout();
    if (dirty) {
      order = orderRows(table, { sortKey, descending, keep });
      dirty = false;
      for (const c of COLUMNS) {
        const hc = headCells.get(c.key);
        if (!hc) continue;
        const on = c.sortKey === sortKey;
        setText(hc.btn, c.label + (on ? (descending ? " ▾" : " ▴") : ""));
        setAttr(hc.cell, "aria-sort", on ? (descending ? "descending" : "ascending") : "none");
      }
    }
    setStyle(spacer, "height", `${order.length * ROW_H}px`);
    // a short mesh gets a short table; long ones scroll inside a fixed viewport
    setStyle(body, "height", `${Math.min(BODY_H, Math.max(order.length, 1) * ROW_H + 2)}px`);
    const anyRows = (() => {
      for (let r = 0; r < table.n; r++) if (table.num("present", r)) return true;
      return false;
    })();
    empty.hidden = order.length > 0;
    setText(empty, anyRows ? "No workers match the filter." : live.snapshot ? "No workers in this snapshot." : "No workers yet.");
    setAttr(grid, "aria-rowcount", String(order.length + 1));
    setText(countEl, `${order.length} shown · ${selected.size} selected`);
    const first = Math.max(0, Math.floor(body.scrollTop / ROW_H) - OVERSCAN);
    const visible = Math.ceil((body.clientHeight || BODY_H) / ROW_H) + 2 * OVERSCAN;
    const last = Math.min(order.length, first + visible);
    const now = live.now();
    const isStale = stale();
    let i = 0;
    for (let k = first; k < last; k++, i++) {
      const p = rowAt(i);
      p.k = k;
      if (p.el.hidden) p.el.hidden = false;
      setStyle(p.el, "top", `${k * ROW_H}px`);
      setAttr(p.el, "aria-rowindex", String(k + 2));
      setAttr(p.el, "tabindex", k === Math.max(0, focusRow) ? "0" : "-1");
      fillRow(p, order[k] as number, now, isStale);
    }
    for (; i < pool.length; i++) {
      const p = pool[i] as PooledRow;
      if (!p.el.hidden) p.el.hidden = true;
      p.k = -1;
    }
  }

  function focusAt(k: number): void {
    if (!order.length) return;
    focusRow = Math.max(0, Math.min(order.length - 1, k));
    const top = focusRow * ROW_H;
    if (top < body.scrollTop) body.scrollTop = top;
    else if (top + ROW_H > body.scrollTop + body.clientHeight) body.scrollTop = top + ROW_H - body.clientHeight;
    paint();
    pool.find((p) => p.k === focusRow)?.el.focus();
  }

  body.addEventListener("keydown", (ev) => {
    const k = focusRow;
    const page = Math.max(1, Math.floor(body.clientHeight / ROW_H) - 1);
    const moves: Record<string, number> = { ArrowDown: k + 1, ArrowUp: k - 1, PageDown: k + page, PageUp: k - page, Home: 0, End: order.length - 1 };
    if (ev.key in moves) {
      ev.preventDefault();
      focusAt(moves[ev.key] as number);
    } else if (ev.key === " " || ev.key === "Enter") {
      ev.preventDefault();
      const p = pool.find((q) => q.k === focusRow);
      if (p) toggle(p.el.dataset.peer ?? "");
    }
  });

  function loadSnapshot(snap: Snapshot | null, buffers: Buffers = []): void {
    if (!snap || typeof snap.n !== "number") return;
    if (snap.seq < table.seq) return;
    table.applySnapshot(snap, buffers);
    resyncAsked = false;
    markDirty();
  }

  const onMsg = (msg: Diff | Snapshot, buffers: Buffers) => {
    if (msg.kind === "diff") {
      if (!table.applyDiff(msg, buffers)) {
        if (!resyncAsked) model.send({ kind: "resync" });
        resyncAsked = true;
        return;
      }
      markDirty();
    } else if (msg.kind === "snapshot") loadSnapshot(msg, buffers);
  };
  const onSummary = () => {
    live.heard();
    renderSummary();
    schedule();
  };
  const onSnapshotTrait = () => loadSnapshot(model.get("_snapshot"));
  const onSelected = () => {
    selected.clear();
    for (const p of model.get("selected") ?? []) selected.add(p);
    markDirty();
  };
  model.on("msg:custom", onMsg);
  model.on("change:summary", onSummary);
  model.on("change:_snapshot", onSnapshotTrait);
  model.on("change:selected", onSelected);
  search.addEventListener("input", () => {
    filter = search.value.trim().toLowerCase();
    markDirty();
  });
  availBox.addEventListener("change", () => {
    availableOnly = availBox.checked;
    model.set("available_only", availableOnly);
    model.save_changes();
    markDirty();
  });
  offBox.addEventListener("change", () => {
    hideOffline = offBox.checked;
    markDirty();
  });
  clearSel.addEventListener("click", () => {
    selected.clear();
    model.set("selected", []);
    model.save_changes();
    markDirty();
  });
  body.addEventListener("scroll", schedule, { passive: true });
  // keeps "seen Ns ago" honest while live; a snapshot's times are frozen at its saved moment
  const ticker = setInterval(() => {
    if (!live.snapshot) schedule();
  }, 1000);
  const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(schedule) : null;
  ro?.observe(root);

  renderSummary();
  loadSnapshot(model.get("_snapshot"));
  model.send({ kind: "resync" }); // live kernels answer with a fresh snapshot
  paint();

  return () => {
    clearInterval(ticker);
    ro?.disconnect();
    releaseKeys();
    live.dispose();
    if (frame) cancelAnimationFrame(frame);
    model.off("msg:custom", onMsg);
    model.off("change:summary", onSummary);
    model.off("change:_snapshot", onSnapshotTrait);
    model.off("change:selected", onSelected);
  };
}

export default { render };
