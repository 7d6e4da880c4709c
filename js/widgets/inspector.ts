// WorkerInspector view: one worker's facts, 5-minute telemetry sparklines, this kernel's tasks on
// it, and Dispatch / History (agentfm_nb/widgets/inspector.py). Everything patches in place.
import { type ArtifactCard, ARTIFACT_CSS, kernelFetcher, patchArtifactCards } from "../shared/artifact_cards";
import { BASE_CSS, containKeys, h, setAttr, setText, styleInto } from "../shared/dom";
import { formatAgo, formatDuration, formatGb } from "../shared/format";
import { liveness } from "../shared/snapshot";
import { SPARK_CSS, sparkline } from "../shared/sparkline";

const CSS = `
.afm-in { container-type: inline-size; }
.afm-in .afm-in-name { font-size: 14px; }
.afm-in .afm-in-desc { margin: 2px 0 6px; }
.afm-in .afm-in-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 8px 16px; }
.afm-in dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 1px 10px; margin: 0; }
.afm-in dt { color: var(--afm-muted); white-space: nowrap; float: none; margin: 0; }
.afm-in dd { margin: 0; overflow-wrap: anywhere; float: none; min-width: 0; }
.afm-in .afm-in-sparks { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 6px 12px; align-content: start; }
.afm-in .afm-in-flag { color: var(--afm-err); font-weight: 600; }
.afm-in section { margin-top: 8px; }
.afm-in h4 { margin: 4px 0; font-size: 12px; }
.afm-in textarea { width: 100%; min-height: 48px; resize: vertical; }
.afm-in .afm-in-out { white-space: pre-wrap; word-break: break-word; max-height: 220px; overflow: auto; margin: 4px 0;
  padding: 4px; border: 1px solid var(--afm-border); background: var(--afm-bg2); }
.afm-in table { border-collapse: collapse; width: 100%; table-layout: fixed; }
.afm-in td, .afm-in th { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--afm-bg2); white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
.afm-in .c-when { width: 70px; } .afm-in .c-status { width: 86px; } .afm-in .c-dur { width: 70px; }
.afm-in .b-failed { border-color: var(--afm-err); } .afm-in .b-failed::before { background: var(--afm-err); }
.afm-in .b-done { border-color: var(--afm-ok); } .afm-in .b-done::before { background: var(--afm-ok); }
.afm-in .b-running, .afm-in .b-streaming { border-color: var(--afm-warn); }
.afm-in .b-running::before, .afm-in .b-streaming::before { background: var(--afm-warn); }
@container (max-width: 640px) { .afm-in .afm-in-grid { grid-template-columns: minmax(0, 1fr); } }
`;

interface Worker {
  peer_id?: string;
  name?: string;
  engine?: string;
  author?: string;
  description?: string;
  hardware?: string;
  status?: string;
  online?: boolean;
  cpu_usage_pct?: number;
  ram_free_gb?: number;
  has_gpu?: boolean;
  gpu_used_gb?: number;
  gpu_total_gb?: number;
  gpu_usage_pct?: number;
  current_tasks?: number;
  max_tasks?: number;
  honesty_score?: number;
  is_equivocator?: boolean;
  dispatch_allowed?: boolean;
  dispatch_refuse_reason?: string | null;
  last_seen?: string | null;
  agent_image_ref?: string;
  agent_image_digest?: string;
  agent_capability?: string;
  rating_count?: number;
  entries_count?: number;
  verified_raters?: number;
  unverified_raters?: number;
  error?: string;
}

interface Series {
  t?: number[];
  cpu?: number[];
  ram?: number[];
  gpu?: number[];
  queue?: number[];
  max_tasks?: number;
  window_s?: number;
}

interface TaskRow {
  seq: number;
  prompt: string;
  status: string;
  started_at: number;
  duration_s: number | null;
  error: string | null;
}

interface Dispatch {
  state?: string;
  prompt?: string;
  text?: string;
  error?: string | null;
  artifacts?: ArtifactCard[];
  duration_s?: number | null;
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

function clock(epoch: number): string {
  const d = new Date(epoch * 1000);
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const root = h("div", { class: "afm afm-in", role: "region" });
  styleInto(el, BASE_CSS, SPARK_CSS, ARTIFACT_CSS, CSS);
  const releaseKeys = containKeys(root);
  const fetcher = kernelFetcher(model);

  const badge = h("span", { class: "afm-badge" });
  const name = h("b", { class: "afm-in-name" });
  const engine = h("span", { class: "afm-muted" });
  const dispatchBtn = h("button", { type: "button", text: "Dispatch", "aria-expanded": "false" });
  const historyBtn = h("button", { type: "button", text: "History", "aria-expanded": "false" });
  const state = h("span", { class: "afm-muted", role: "status" });
  const err = h("div", { class: "afm-banner err", hidden: true, role: "alert" });
  const desc = h("p", { class: "afm-in-desc" });
  const facts = h("dl", { "aria-label": "Worker facts" });
  const sparks = {
    cpu: sparkline({ label: "CPU", min: 0, max: 100, windowS: 300, format: (v) => `${v.toFixed(0)}%` }),
    ram: sparkline({ label: "RAM free", windowS: 300, format: (v) => formatGb(v) }),
    gpu: sparkline({ label: "GPU", min: 0, max: 100, windowS: 300, format: (v) => `${v.toFixed(0)}%` }),
    queue: sparkline({ label: "Queue", min: 0, windowS: 300, format: (v) => v.toFixed(0) }),
  };
  const sparkBox = h("div", { class: "afm-in-sparks", role: "group", "aria-label": "Telemetry, last 5 minutes" });
  sparkBox.append(sparks.cpu.el, sparks.ram.el, sparks.gpu.el, sparks.queue.el);

  // Dispatch: one prompt to exactly this peer, streamed here.
  const prompt = h("textarea", { rows: 2, placeholder: "Prompt (Enter sends, Shift+Enter new line)" });
  const send = h("button", { type: "button", text: "Send" });
  const stop = h("button", { type: "button", text: "Stop", disabled: true });
  const dState = h("span", { class: "afm-muted", role: "status" });
  const out = h("div", { class: "afm-in-out", "aria-live": "polite", "aria-label": "Answer", tabindex: 0, hidden: true });
  const outCards = h("div", { class: "afm-arts", role: "list", "aria-label": "Files" });
  const dispatchPane = h(
    "section",
    { hidden: true, "aria-label": "Dispatch" },
    h("h4", { text: "Dispatch" }),
    prompt,
    h("div", { class: "afm-bar" }, send, stop, dState),
    out,
    outCards,
  );

  const taskBody = h("tbody");
  const tasksEmpty = h("p", { class: "afm-muted", text: "No tasks sent to this worker from this kernel yet." });
  const tasksTable = h(
    "table",
    { "aria-label": "Recent tasks from this kernel" },
    h(
      "thead",
      {},
      h("tr", {}, ...(["c-when:When", "c-status:Status", "c-dur:Duration", "c-prompt:Prompt"] as const).map((s) => {
        const [cls, text] = s.split(":");
        return h("th", { class: cls, scope: "col", text });
      })),
    ),
    taskBody,
  );
  const historyPane = h("section", { "aria-label": "Recent tasks" }, h("h4", { text: "Recent tasks from this kernel" }), tasksTable, tasksEmpty);

  const live = liveness(model, () => paintDispatch());
  root.append(
    live.banner,
    h("div", { class: "afm-bar" }, badge, name, engine, dispatchBtn, historyBtn, state),
    err,
    desc,
    h("div", { class: "afm-in-grid" }, facts, sparkBox),
    dispatchPane,
    historyPane,
  );
  el.append(root);

  function paintWorker(): void {
    const w: Worker = model.get("worker") ?? {};
    const status = (w.status ?? "UNKNOWN").toUpperCase();
    setText(badge, status.toLowerCase());
    setAttr(badge, "class", `afm-badge b-${status === "AVAILABLE" || status === "BUSY" || status === "OFFLINE" ? status.toLowerCase() : "unknown"}`);
    setText(name, w.name || w.peer_id || "worker");
    setText(engine, [w.engine, w.author && `by ${w.author}`].filter(Boolean).join(" · "));
    setAttr(root, "aria-label", `Worker inspector: ${w.name || w.peer_id || ""}`);
    setText(desc, w.description || "");
    desc.hidden = !w.description;
    const s = String(model.get("state") ?? "");
    setText(state, s === "live" ? "" : s);
    const problem = w.error || (s === "not found" ? "This worker is not in the gateway's list (offline or gone)." : "");
    err.hidden = !problem;
    setText(err, problem || "");
    const rows: [string, string, boolean?][] = [
      ["peer id", w.peer_id ?? "–"],
      ["hardware", w.hardware || "–"],
      ["honesty", w.honesty_score == null ? "–" : w.honesty_score.toFixed(2)],
      ["load", `${w.current_tasks ?? 0}/${w.max_tasks ?? 0} tasks`],
      ["GPU", w.has_gpu ? `${formatGb(w.gpu_used_gb ?? 0)} of ${formatGb(w.gpu_total_gb ?? 0)}` : "none"],
      ["last seen", w.last_seen ? formatAgo(Date.parse(w.last_seen) / 1000, live.now()) : "–"],
    ];
    if (w.is_equivocator) rows.push(["equivocator", "yes: signed two different histories", true]);
    if (w.dispatch_allowed === false) rows.push(["dispatch", `refused: ${w.dispatch_refuse_reason ?? "policy"}`, true]);
    if (w.agent_capability) rows.push(["capability", w.agent_capability]);
    if (w.agent_image_ref) rows.push(["image", w.agent_image_ref]);
    if (w.agent_image_digest) rows.push(["image digest", w.agent_image_digest]);
    if (w.rating_count != null) rows.push(["ratings", String(w.rating_count)]);
    if (w.verified_raters != null) rows.push(["raters", `${w.verified_raters} verified, ${w.unverified_raters ?? 0} unverified`]);
    patchFacts(rows);
  }

  function patchFacts(rows: [string, string, boolean?][]): void {
    // One dt/dd pair per fact, reused by position: a live update rewrites only changed texts.
    while (facts.children.length > rows.length * 2) facts.lastElementChild?.remove();
    rows.forEach(([k, v, flag], i) => {
      let dt = facts.children[i * 2] as HTMLElement | undefined;
      let dd = facts.children[i * 2 + 1] as HTMLElement | undefined;
      if (!dt || !dd) {
        dt = h("dt");
        dd = h("dd");
        facts.append(dt, dd);
      }
      setText(dt, k);
      setText(dd, v);
      setAttr(dd, "class", flag ? "afm-in-flag" : null);
    });
  }

  function paintSeries(): void {
    const s: Series = model.get("series") ?? {};
    const t = s.t ?? [];
    const now = t.length ? Math.max(t[t.length - 1] as number, live.snapshot ? 0 : live.now()) : undefined;
    sparks.cpu.update(t, s.cpu ?? [], now);
    sparks.ram.update(t, s.ram ?? [], now);
    sparks.gpu.update(t, s.gpu ?? [], now);
    sparks.queue.update(t, s.queue ?? [], now);
  }

  function paintTasks(): void {
    const list: TaskRow[] = model.get("tasks") ?? [];
    const existing = new Map<string, HTMLTableRowElement>();
    for (const tr of Array.from(taskBody.children) as HTMLTableRowElement[]) existing.set(tr.dataset.seq ?? "", tr);
    let at: Element | null = taskBody.firstElementChild;
    for (const r of list) {
      let tr = existing.get(String(r.seq));
      if (!tr) {
        tr = h("tr", { "data-seq": r.seq, tabindex: 0 }, h("td"), h("td", {}, h("span", { class: "afm-badge" })), h("td"), h("td"));
      }
      existing.delete(String(r.seq));
      const [when, st, dur, pr] = Array.from(tr.children) as HTMLElement[];
      setText(when as HTMLElement, clock(r.started_at));
      const b = (st as HTMLElement).firstElementChild as HTMLElement;
      setText(b, r.status);
      setAttr(b, "class", `afm-badge b-${r.status}`);
      setText(dur as HTMLElement, r.status === "running" ? "…" : formatDuration(r.duration_s));
      setText(pr as HTMLElement, r.prompt.replace(/\s+/g, " "));
      setAttr(pr as HTMLElement, "title", r.error ? `${r.prompt}\n\nerror: ${r.error}` : r.prompt);
      setAttr(tr, "aria-label", `${clock(r.started_at)} ${r.status}${r.error ? ` (${r.error})` : ""}: ${r.prompt.slice(0, 100)}`);
      if (tr !== at) taskBody.insertBefore(tr, at);
      at = tr.nextElementSibling;
    }
    for (const stale of existing.values()) stale.remove();
    tasksTable.hidden = list.length === 0;
    tasksEmpty.hidden = list.length > 0;
  }

  function paintDispatch(): void {
    const d: Dispatch = model.get("dispatch_state") ?? {};
    const busy = d.state === "streaming";
    const w: Worker = model.get("worker") ?? {};
    const refused = w.dispatch_allowed === false;
    send.disabled = live.snapshot || busy || refused;
    stop.disabled = live.snapshot || !busy;
    prompt.disabled = live.snapshot;
    setAttr(prompt, "aria-label", `Prompt for ${w.name || "this worker"}`);
    setAttr(send, "title", live.snapshot ? "No kernel: this is a saved snapshot" : refused ? "The gateway refuses dispatch to this worker" : null);
    const label =
      d.state && d.state !== "idle"
        ? `${d.state}${d.duration_s != null ? ` in ${formatDuration(d.duration_s)}` : ""}${d.error ? `: ${d.error}` : ""}`
        : "";
    setText(dState, label);
    out.hidden = !d.text;
    setText(out, d.text ?? "");
    patchArtifactCards(outCards, d.artifacts ?? [], live.snapshot ? null : fetcher.fetch);
    if (d.state && d.state !== "idle" && dispatchPane.hidden) toggle(dispatchPane, dispatchBtn, true);
  }

  function toggle(pane: HTMLElement, btn: HTMLButtonElement, show?: boolean): void {
    const open = show ?? pane.hidden;
    pane.hidden = !open;
    setAttr(btn, "aria-expanded", String(open));
  }

  function submit(): void {
    const text = prompt.value;
    if (!text.trim() || send.disabled) return;
    model.send({ kind: "dispatch", prompt: text });
    prompt.value = "";
    send.disabled = true;
  }

  dispatchBtn.addEventListener("click", () => {
    toggle(dispatchPane, dispatchBtn);
    if (!dispatchPane.hidden && !prompt.disabled) prompt.focus();
  });
  historyBtn.addEventListener("click", () => {
    toggle(historyPane, historyBtn);
    if (!historyPane.hidden) (taskBody.firstElementChild as HTMLElement | null)?.focus();
  });
  historyBtn.setAttribute("aria-expanded", "true");
  send.addEventListener("click", submit);
  stop.addEventListener("click", () => model.send({ kind: "stop_dispatch" }));
  prompt.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });

  const handlers: [string, () => void][] = [
    ["change:worker", paintWorker],
    ["change:state", paintWorker],
    ["change:series", paintSeries],
    ["change:tasks", paintTasks],
    ["change:dispatch_state", paintDispatch],
  ];
  for (const [ev, fn] of handlers) {
    const wrapped = () => {
      live.heard();
      fn();
    };
    model.on(ev, wrapped);
    (fn as { _afm?: () => void })._afm = wrapped;
  }
  paintWorker();
  paintSeries();
  paintTasks();
  paintDispatch();
  const ticker = setInterval(() => {
    if (!live.snapshot) paintWorker();
  }, 1000);
  return () => {
    clearInterval(ticker);
    live.dispose();
    fetcher.dispose();
    releaseKeys();
    for (const [ev, fn] of handlers) model.off(ev, (fn as { _afm?: () => void })._afm);
  };
}

export default { render };
