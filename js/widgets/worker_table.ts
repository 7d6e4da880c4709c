// WorkerTable view: a virtualized, sortable, filterable table of mesh workers fed by columnar
// binary snapshots and diffs from the kernel (agentfm_nb/widgets/worker_table.py).
import { ColumnTable, type Diff, type Snapshot, orderRows } from "../shared/columnar";
import { BASE_CSS, type Buffers, h, injectStyle } from "../shared/dom";
import { formatAgo, formatGb, formatPercent, shortPeerId } from "../shared/format";

const ROW_H = 26;
const BODY_H = 360;
const OVERSCAN = 8;
const STATUS = ["AVAILABLE", "BUSY", "OFFLINE"];

const CSS = `
.afm-wt .afm-wt-head, .afm-wt .afm-wt-row { display: grid;
  grid-template-columns: 22px minmax(120px,1.6fr) 90px 80px 86px 96px 56px 70px 84px 60px 70px minmax(150px,1fr);
  align-items: center; gap: 0 6px; padding: 0 6px; }
.afm-wt .afm-wt-head { font-weight: 600; border-bottom: 1px solid var(--afm-border); height: 26px; user-select: none; }
.afm-wt .afm-wt-head span { cursor: pointer; white-space: nowrap; overflow: hidden; }
.afm-wt .afm-wt-body { position: relative; overflow-y: auto; height: ${BODY_H}px; }
.afm-wt .afm-wt-row { position: absolute; left: 0; right: 0; height: ${ROW_H}px; border-bottom: 1px solid var(--afm-bg2); }
.afm-wt .afm-wt-row > span { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.afm-wt .afm-wt-row.sel { background: var(--jp-brand-color3, #dbeafe); }
.afm-wt .afm-wt-row:hover { background: var(--afm-bg2); }
.afm-wt .afm-load { position: relative; height: 12px; background: var(--afm-bg2); border-radius: 2px; }
.afm-wt .afm-load > i { position: absolute; left: 0; top: 0; bottom: 0; background: #60a5fa; border-radius: 2px; }
.afm-wt .afm-load > b { position: absolute; inset: 0; font-size: 10px; font-weight: 400; text-align: center; line-height: 12px; }
.afm-wt .afm-peer button { padding: 0 4px; margin-left: 4px; font-size: 10px; }
.afm-wt .afm-wt-empty { padding: 12px; color: var(--afm-muted); }
`;

interface Column {
  key: string;
  label: string;
  sortKey: string;
}
const COLUMNS: Column[] = [
  { key: "name", label: "Name", sortKey: "name" },
  { key: "engine", label: "Engine", sortKey: "engine" },
  { key: "author", label: "Author", sortKey: "author" },
  { key: "status", label: "Status", sortKey: "status" },
  { key: "load", label: "Load", sortKey: "load" },
  { key: "cpu", label: "CPU", sortKey: "cpu" },
  { key: "ram", label: "RAM free", sortKey: "ram" },
  { key: "gpu", label: "GPU", sortKey: "gpu_pct" },
  { key: "honesty", label: "Honesty", sortKey: "honesty" },
  { key: "last_seen", label: "Seen", sortKey: "last_seen" },
  { key: "peer_id", label: "Peer", sortKey: "peer_id" },
];

interface Summary {
  online?: number;
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

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  injectStyle("afm-base-css", BASE_CSS);
  injectStyle("afm-wt-css", CSS);
  const table = new ColumnTable();
  let sortKey: string | null = "name";
  let descending = false;
  let filter = "";
  let availableOnly = Boolean(model.get("available_only"));
  let order: Uint32Array = new Uint32Array(0);
  let dirty = true;
  let frame = 0;
  let resyncAsked = false;
  const selected = new Set<string>(model.get("selected") ?? []);

  const summaryEl = h("div", { class: "afm-bar" });
  const banner = h("div", { class: "afm-banner", style: "display:none" });
  const search = h("input", { type: "text", placeholder: "filter name, engine, author, peer…", size: 28 });
  const availBox = h("input", { type: "checkbox" });
  availBox.checked = availableOnly;
  const countEl = h("span", { class: "afm-muted" });
  const clearSel = h("button", { text: "clear selection" });
  const controls = h("div", { class: "afm-bar" }, search, h("label", {}, availBox, " available only"), clearSel, countEl);
  const head = h("div", { class: "afm-wt-head" }, h("span", {}));
  const headCells: HTMLElement[] = COLUMNS.map((c) => {
    const s = h("span", { title: `sort by ${c.label}`, "data-key": c.sortKey, text: c.label });
    s.addEventListener("click", () => {
      if (sortKey === c.sortKey) descending = !descending;
      else {
        sortKey = c.sortKey;
        descending = false;
      }
      markDirty();
    });
    head.append(s);
    return s;
  });
  const spacer = h("div", { style: "height:0px" });
  const body = h("div", { class: "afm-wt-body" }, spacer);
  const empty = h("div", { class: "afm-wt-empty", text: "No workers yet." });
  const root = h("div", { class: "afm afm-wt" }, summaryEl, banner, controls, head, body, empty);
  el.append(root);

  const keep = (r: number): boolean => {
    if (table.num("present", r) === 0) return false;
    if (availableOnly && table.num("status", r) !== 0) return false;
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

  function renderSummary(): void {
    const s: Summary = model.get("summary") ?? {};
    summaryEl.replaceChildren(
      h("b", { text: `${s.online ?? 0} online` }),
      h("span", { text: `${s.busy_slots ?? 0}/${s.slots ?? 0} slots busy` }),
      h("span", { class: "afm-muted", text: s.gateway_url ?? "" }),
      h("span", { class: "afm-muted", text: s.state && s.state !== "live" ? `· ${s.state}` : "· live" }),
    );
    if (s.state === "unreachable") {
      banner.style.display = "";
      banner.className = "afm-banner err";
      const retry = s.retry_in ? ` Retrying in ${s.retry_in.toFixed(1)}s.` : "";
      banner.textContent = `Gateway unreachable: ${s.error ?? "no answer"}.${retry}`;
    } else if (s.state === "stopped") {
      banner.style.display = "";
      banner.className = "afm-banner info";
      banner.textContent = "Live updates stopped.";
    } else banner.style.display = "none";
  }

  const pool: HTMLElement[] = [];
  function rowEl(i: number): HTMLElement {
    let row = pool[i];
    if (!row) {
      row = h("div", { class: "afm-wt-row" });
      const check = h("input", { type: "checkbox" });
      row.append(check);
      for (let c = 0; c < COLUMNS.length; c++) row.append(h("span"));
      row.addEventListener("click", (ev) => {
        const peer = row?.dataset.peer;
        if (!peer) return;
        const t = ev.target as HTMLElement;
        if (t.tagName === "BUTTON") return;
        if (selected.has(peer)) selected.delete(peer);
        else selected.add(peer);
        model.set("selected", [...selected]);
        model.save_changes();
        markDirty();
      });
      pool[i] = row;
      body.append(row);
    }
    return row;
  }

  function fillRow(row: HTMLElement, r: number, now: number): void {
    const peer = table.str("peer_id", r);
    row.dataset.peer = peer;
    row.classList.toggle("sel", selected.has(peer));
    const cells = row.children;
    (cells[0] as HTMLInputElement).checked = selected.has(peer);
    const st = table.num("status", r);
    const cur = table.num("cur", r);
    const max = table.num("max", r);
    const set = (i: number, text: string, title?: string) => {
      const c = cells[i + 1] as HTMLElement;
      c.textContent = text;
      if (title !== undefined) c.title = title;
    };
    set(0, table.str("name", r), table.str("hardware", r));
    set(1, table.str("engine", r));
    set(2, table.str("author", r));
    const badge = cells[4] as HTMLElement;
    const label = STATUS[st] ?? "?";
    badge.replaceChildren(h("span", { class: `afm-badge b-${label.toLowerCase()}`, text: label }));
    const load = cells[5] as HTMLElement;
    const pct = max > 0 ? Math.min(100, (100 * cur) / max) : 0;
    load.replaceChildren(h("div", { class: "afm-load" }, h("i", { style: `width:${pct}%` }), h("b", { text: `${cur}/${max}` })));
    set(5, formatPercent(table.num("cpu", r)));
    set(6, formatGb(table.num("ram", r)));
    const hasGpu = table.num("has_gpu", r) > 0;
    set(
      7,
      hasGpu ? formatPercent(table.num("gpu_pct", r)) : "–",
      hasGpu ? `${table.num("gpu_used", r).toFixed(1)}/${table.num("gpu_total", r).toFixed(1)} GB` : "no GPU",
    );
    set(8, table.num("honesty", r).toFixed(2));
    set(9, formatAgo(table.num("last_seen", r), now));
    const peerCell = cells[11] as HTMLElement;
    const copy = h("button", { title: "copy peer id", text: "copy" });
    copy.addEventListener("click", () => {
      void navigator.clipboard?.writeText(peer).then(
        () => (copy.textContent = "copied"),
        () => (copy.textContent = "select"),
      );
    });
    peerCell.title = peer;
    peerCell.replaceChildren(h("code", { text: shortPeerId(peer) }), copy);
  }

  function paint(): void {
    frame = 0;
    if (dirty) {
      order = orderRows(table, { sortKey, descending, keep });
      dirty = false;
      for (const s of headCells) {
        const on = s.dataset.key === sortKey;
        s.textContent = (COLUMNS.find((c) => c.sortKey === s.dataset.key)?.label ?? "") + (on ? (descending ? " ▾" : " ▴") : "");
      }
    }
    spacer.style.height = `${order.length * ROW_H}px`;
    // a short mesh gets a short table; long ones scroll inside a fixed viewport
    body.style.height = `${Math.min(BODY_H, Math.max(order.length, 1) * ROW_H + 2)}px`;
    empty.style.display = order.length ? "none" : "";
    countEl.textContent = `${order.length} shown · ${selected.size} selected`;
    const first = Math.max(0, Math.floor(body.scrollTop / ROW_H) - OVERSCAN);
    const visible = Math.ceil((body.clientHeight || BODY_H) / ROW_H) + 2 * OVERSCAN;
    const last = Math.min(order.length, first + visible);
    const now = Date.now() / 1000;
    let i = 0;
    for (let k = first; k < last; k++, i++) {
      const row = rowEl(i);
      row.style.display = "";
      row.style.top = `${k * ROW_H}px`;
      fillRow(row, order[k] as number, now);
    }
    for (; i < pool.length; i++) (pool[i] as HTMLElement).style.display = "none";
  }

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
  const onSummary = () => renderSummary();
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
  clearSel.addEventListener("click", () => {
    selected.clear();
    model.set("selected", []);
    model.save_changes();
    markDirty();
  });
  body.addEventListener("scroll", schedule, { passive: true });
  const ticker = setInterval(schedule, 1000); // keeps "seen Ns ago" honest

  renderSummary();
  loadSnapshot(model.get("_snapshot"));
  model.send({ kind: "resync" }); // live kernels answer with a fresh snapshot
  paint();

  return () => {
    clearInterval(ticker);
    if (frame) cancelAnimationFrame(frame);
    model.off("msg:custom", onMsg);
    model.off("change:summary", onSummary);
    model.off("change:_snapshot", onSnapshotTrait);
    model.off("change:selected", onSelected);
  };
}

export default { render };
