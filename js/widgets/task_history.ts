// TaskHistory view: every task this kernel dispatched (agentfm_nb/widgets/task_history.py).
// Rows are keyed by the journal's `seq`: live `rows` messages patch the rows they name, so an
// open detail, a text selection or keyboard focus survive updates. Newest first.
import { type ArtifactCard, ARTIFACT_CSS, kernelFetcher, patchArtifactCards } from "../shared/artifact_cards";
import { BASE_CSS, containKeys, h, setAttr, setText, styleInto } from "../shared/dom";
import { formatDuration, shortPeerId } from "../shared/format";
import { liveness } from "../shared/snapshot";

const MAX_SHOWN = 500;
const STATUSES = ["running", "done", "failed", "cancelled"];

const CSS = `
.afm-th { container-type: inline-size; }
.afm-th .afm-th-scroll { max-height: 420px; overflow: auto; border: 1px solid var(--afm-border); border-radius: 3px; }
.afm-th table { border-collapse: collapse; width: 100%; table-layout: fixed; }
.afm-th th { position: sticky; top: 0; background: var(--jp-layout-color1, Canvas); text-align: left; font-weight: 600;
  border-bottom: 1px solid var(--afm-border); padding: 3px 6px; z-index: 1; }
.afm-th td { padding: 2px 6px; border-bottom: 1px solid var(--afm-bg2); white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; vertical-align: top; }
.afm-th tr.afm-th-row { cursor: pointer; }
.afm-th tr.afm-th-row:hover td { background: var(--afm-bg2); }
.afm-th tr.afm-th-row[aria-expanded=true] td { border-bottom-color: transparent; font-weight: 600; }
.afm-th .c-started { width: 76px; } .afm-th .c-agent { width: 120px; } .afm-th .c-status { width: 92px; }
.afm-th .c-dur { width: 72px; text-align: right; } .afm-th .c-files { width: 64px; text-align: right; }
.afm-th td.afm-th-detail { white-space: normal; padding: 4px 10px 8px; box-shadow: inset 3px 0 0 var(--afm-info); }
.afm-th .afm-th-detail pre { white-space: pre-wrap; word-break: break-word; margin: 2px 0 6px; max-height: 160px; overflow: auto;
  background: var(--jp-layout-color1, Canvas); padding: 4px; border: 1px solid var(--afm-border); }
.afm-th .afm-th-detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 0 0 4px; }
.afm-th .afm-th-detail dt { color: var(--afm-muted); } .afm-th .afm-th-detail dd { margin: 0; word-break: break-all; }
.afm-th .b-failed { border-color: var(--afm-err); } .afm-th .b-failed::before { background: var(--afm-err); }
.afm-th .b-done { border-color: var(--afm-ok); } .afm-th .b-done::before { background: var(--afm-ok); }
.afm-th .b-running { border-color: var(--afm-warn); } .afm-th .b-running::before { background: var(--afm-warn); }
.afm-th .b-cancelled::before { background: var(--afm-border); }
.afm-th .afm-th-empty { padding: 10px; color: var(--afm-muted); }
@container (max-width: 700px) { .afm-th .c-started, .afm-th .c-files { display: none; } .afm-th .c-agent { width: 96px; } }
`;

interface Row {
  seq: number;
  task_id: string;
  prompt: string;
  agent: string;
  peer_id: string;
  status: string;
  started_at: number;
  duration_s: number | null;
  error: string | null;
  artifacts: ArtifactCard[];
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

function clock(epoch: number): string {
  const d = new Date(epoch * 1000);
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

interface RowView {
  tr: HTMLTableRowElement;
  cells: Record<"started" | "agent" | "status" | "dur" | "prompt" | "files", HTMLTableCellElement>;
  badge: HTMLSpanElement;
  detail: HTMLTableRowElement | null;
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const rows = new Map<number, Row>();
  const views = new Map<number, RowView>();
  const open = new Set<number>();
  const root = h("div", { class: "afm afm-th" });
  styleInto(el, BASE_CSS, ARTIFACT_CSS, CSS);
  const releaseKeys = containKeys(root);
  const fetcher = kernelFetcher(model);

  const title = h("b", { text: model.get("title") || "Task history" });
  const counts = h("span", { class: "afm-muted", role: "status", "aria-live": "polite" });
  const search = h("input", { type: "search", placeholder: "filter prompt, agent, peer…", "aria-label": "Filter tasks", size: 26 });
  search.value = model.get("query") ?? "";
  const status = h("select", { "aria-label": "Status" });
  status.append(h("option", { value: "", text: "all statuses" }), ...STATUSES.map((s) => h("option", { value: s, text: s })));
  status.value = model.get("status_filter") ?? "";
  const head = h(
    "tr",
    {},
    ...(
      [
        ["c-started", "Started"],
        ["c-agent", "Agent"],
        ["c-status", "Status"],
        ["c-dur", "Duration"],
        ["c-prompt", "Prompt"],
        ["c-files", "Files"],
      ] as const
    ).map(([cls, text]) => h("th", { class: cls, scope: "col", text })),
  );
  const tbody = h("tbody");
  const table = h("table", { "aria-label": "Tasks dispatched from this kernel" }, h("thead", {}, head), tbody);
  const empty = h("div", { class: "afm-th-empty" });
  const more = h("div", { class: "afm-muted", hidden: true });
  const live = liveness(model, () => {
    for (const seq of open) refreshDetail(seq, true);
    tick();
  });
  root.append(live.banner, h("div", { class: "afm-bar" }, title, counts, search, status), h("div", { class: "afm-th-scroll" }, table), empty, more);
  el.append(root);

  const fetchFor = (seq: number) => (key: string) => (live.snapshot ? Promise.resolve(null) : fetcher.fetch(`${seq}:${key}`));

  function durationText(r: Row): string {
    if (r.status === "running") return formatDuration(Math.max(0, live.now() - r.started_at));
    return formatDuration(r.duration_s);
  }

  function buildView(r: Row): RowView {
    const cell = (cls: string) => h("td", { class: cls });
    const cells = {
      started: cell("c-started"),
      agent: cell("c-agent"),
      status: cell("c-status"),
      dur: cell("c-dur"),
      prompt: cell("c-prompt"),
      files: cell("c-files"),
    };
    const badge = h("span", { class: "afm-badge" });
    cells.status.append(badge);
    const tr = h("tr", { class: "afm-th-row", tabindex: 0, "aria-expanded": "false", "data-seq": r.seq });
    tr.append(cells.started, cells.agent, cells.status, cells.dur, cells.prompt, cells.files);
    const toggle = () => {
      if (open.has(r.seq)) open.delete(r.seq);
      else open.add(r.seq);
      refreshDetail(r.seq, false);
    };
    tr.addEventListener("click", (ev) => {
      if ((ev.target as HTMLElement).closest("button, a")) return;
      if (window.getSelection()?.toString()) return; // selecting text is not a click
      toggle();
    });
    tr.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        toggle();
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const all = Array.from(tbody.querySelectorAll<HTMLElement>("tr.afm-th-row"));
        const i = all.indexOf(tr) + (ev.key === "ArrowDown" ? 1 : -1);
        all[Math.max(0, Math.min(all.length - 1, i))]?.focus();
      }
    });
    return { tr, cells, badge, detail: null };
  }

  function paintRow(v: RowView, r: Row): void {
    setText(v.cells.started, clock(r.started_at));
    setText(v.cells.agent, r.agent || shortPeerId(r.peer_id));
    setAttr(v.cells.agent, "title", r.peer_id);
    setText(v.badge, r.status);
    setAttr(v.badge, "class", `afm-badge b-${r.status}`);
    setText(v.cells.dur, durationText(r));
    setText(v.cells.prompt, r.prompt.replace(/\s+/g, " "));
    setAttr(v.cells.prompt, "title", r.prompt.slice(0, 300));
    setText(v.cells.files, r.artifacts.length ? `${r.artifacts.length} file${r.artifacts.length > 1 ? "s" : ""}` : "");
    setAttr(v.tr, "aria-label", `${r.agent || r.peer_id} ${r.status}: ${r.prompt.slice(0, 80)}`);
  }

  function refreshDetail(seq: number, rebuild: boolean): void {
    const v = views.get(seq);
    const r = rows.get(seq);
    if (!v || !r) return;
    const isOpen = open.has(seq);
    setAttr(v.tr, "aria-expanded", String(isOpen));
    if (!isOpen) {
      v.detail?.remove();
      v.detail = null;
      return;
    }
    if (!v.detail || rebuild) {
      const td = h("td", { class: "afm-th-detail", colspan: 6 });
      const tr = h("tr", { class: "afm-th-detail-row" }, td);
      v.detail?.replaceWith(tr);
      v.detail = tr;
    }
    const td = v.detail.firstElementChild as HTMLElement;
    let dl = td.querySelector("dl");
    let pre = td.querySelector("pre.afm-th-prompt") as HTMLElement | null;
    let cards = td.querySelector(".afm-arts") as HTMLElement | null;
    if (!dl || !pre || !cards) {
      dl = h("dl");
      pre = h("pre", { class: "afm-th-prompt", tabindex: 0, "aria-label": "Prompt" });
      cards = h("div", { class: "afm-arts", role: "list", "aria-label": "Files" });
      td.replaceChildren(dl, pre, cards);
    }
    const facts: [string, string][] = [
      ["task id", r.task_id],
      ["agent", r.agent || "–"],
      ["peer", r.peer_id],
      ["status", r.status],
      ["duration", durationText(r)],
    ];
    if (r.error) facts.push(["error", r.error]);
    const want = facts.map(([k, val]) => `${k}\u0000${val}`).join("\u0001");
    if (dl.dataset.sig !== want) {
      dl.dataset.sig = want;
      dl.replaceChildren(...facts.flatMap(([k, val]) => [h("dt", { text: k }), h("dd", { text: val })]));
    }
    setText(pre, r.prompt);
    patchArtifactCards(cards, r.artifacts, live.snapshot ? null : fetchFor(seq));
    if (v.tr.nextSibling !== v.detail) v.tr.after(v.detail);
  }

  function visible(): Row[] {
    const q = search.value.trim().toLowerCase();
    const st = status.value;
    const out: Row[] = [];
    const seqs = Array.from(rows.keys()).sort((a, b) => b - a);
    for (const s of seqs) {
      const r = rows.get(s) as Row;
      if (st && r.status !== st) continue;
      if (q && !`${r.prompt}\n${r.agent}\n${r.peer_id}\n${r.task_id}`.toLowerCase().includes(q)) continue;
      out.push(r);
    }
    return out;
  }

  function paint(): void {
    const list = visible();
    const shown = list.slice(0, MAX_SHOWN);
    const keep = new Set(shown.map((r) => r.seq));
    for (const [seq, v] of views) {
      if (!keep.has(seq)) {
        v.tr.remove();
        v.detail?.remove();
        views.delete(seq);
      }
    }
    let at: Element | null = tbody.firstElementChild;
    for (const r of shown) {
      let v = views.get(r.seq);
      if (!v) {
        v = buildView(r);
        views.set(r.seq, v);
      }
      paintRow(v, r);
      if (v.tr !== at) tbody.insertBefore(v.tr, at);
      at = v.tr.nextElementSibling;
      if (open.has(r.seq)) {
        refreshDetail(r.seq, false);
        at = (v.detail as HTMLElement).nextElementSibling;
      }
    }
    const all = Array.from(rows.values());
    const n = (s: string) => all.filter((r) => r.status === s).length;
    const parts = [`${all.length} task${all.length === 1 ? "" : "s"}`];
    for (const s of STATUSES) if (n(s)) parts.push(`${n(s)} ${s}`);
    setText(counts, parts.join(" · "));
    empty.hidden = shown.length > 0;
    setText(empty, all.length ? "No task matches the filter." : "No tasks dispatched from this kernel yet.");
    table.hidden = shown.length === 0;
    more.hidden = list.length <= MAX_SHOWN;
    setText(more, `… and ${list.length - MAX_SHOWN} more (all of them are in .dataframe)`);
  }

  function tick(): void {
    for (const [seq, v] of views) {
      const r = rows.get(seq);
      if (r && r.status === "running") setText(v.cells.dur, durationText(r));
    }
  }

  function load(list: Row[] | undefined, keepFrom = 0): void {
    for (const r of list ?? []) rows.set(r.seq, r);
    for (const seq of Array.from(rows.keys())) if (seq < keepFrom) rows.delete(seq);
  }

  const onRows = () => {
    rows.clear();
    load(model.get("_rows"));
    live.heard();
    paint();
  };
  const onMsg = (msg: { kind?: string; rows?: Row[]; keep?: number }) => {
    if (msg?.kind !== "rows") return;
    load(msg.rows, msg.keep ?? 0);
    paint();
  };
  const onFilter = () => {
    model.set("query", search.value);
    model.set("status_filter", status.value);
    model.save_changes();
    paint();
  };
  search.addEventListener("input", onFilter);
  status.addEventListener("change", onFilter);
  model.on("change:_rows", onRows);
  model.on("msg:custom", onMsg);
  load(model.get("_rows"));
  paint();
  try {
    model.send({ kind: "resync" });
  } catch {
    // a saved page: no kernel to ask
  }
  const ticker = setInterval(() => {
    if (!live.snapshot) tick();
  }, 1000);
  return () => {
    clearInterval(ticker);
    live.dispose();
    fetcher.dispose();
    releaseKeys();
    model.off("change:_rows", onRows);
    model.off("msg:custom", onMsg);
  };
}

export default { render };
