// GatewayPanel view: what the LocalMeshGateway is doing, its log tail and a Stop button.
import { BASE_CSS, h, injectStyle } from "../shared/dom";
import { formatDuration } from "../shared/format";

const CSS = `
.afm-gp dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0; }
.afm-gp dt { color: var(--afm-muted); }
.afm-gp dd { margin: 0; }
.afm-gp pre { max-height: 180px; overflow: auto; background: var(--afm-bg2); padding: 6px; margin: 4px 0;
  font-size: 11px; white-space: pre-wrap; }
.afm-gp .afm-dot { display: inline-block; width: 8px; height: 8px; border-radius: 4px; margin-right: 4px; }
`;

interface Info {
  backend?: string;
  url?: string;
  pid?: number | null;
  uptime_s?: number | null;
  online_workers?: number | null;
  running?: boolean;
  error?: string | null;
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  injectStyle("afm-base-css", BASE_CSS);
  injectStyle("afm-gp-css", CSS);
  const dl = h("dl");
  const log = h("pre");
  const stop = h("button", { text: "Stop gateway" });
  const title = h("b");
  const dot = h("span", { class: "afm-dot" });
  const err = h("div", { class: "afm-banner err", style: "display:none" });
  el.append(h("div", { class: "afm afm-gp" }, h("div", { class: "afm-bar" }, dot, title, stop), err, dl, h("details", {}, h("summary", { text: "log" }), log)));
  let base = { uptime: 0, at: Date.now() };

  function paint(): void {
    const i: Info = model.get("info") ?? {};
    const running = Boolean(i.running);
    dot.style.background = running ? "#22c55e" : "#a1a1aa";
    title.textContent = `AgentFM gateway · ${running ? "running" : "stopped"}`;
    stop.disabled = !running;
    const uptime = running ? base.uptime + (Date.now() - base.at) / 1000 : base.uptime;
    const rows: [string, string][] = [
      ["backend", i.backend ?? "–"],
      ["url", i.url ?? "–"],
      ["pid", i.pid == null ? "–" : String(i.pid)],
      ["uptime", formatDuration(uptime)],
      ["online workers", i.online_workers == null ? "–" : String(i.online_workers)],
    ];
    dl.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
    err.style.display = i.error ? "" : "none";
    err.textContent = i.error ?? "";
  }
  const onInfo = () => {
    const i: Info = model.get("info") ?? {};
    base = { uptime: i.uptime_s ?? 0, at: Date.now() };
    paint();
  };
  const onLog = () => {
    log.textContent = model.get("log_tail") ?? "";
    log.scrollTop = log.scrollHeight;
  };
  model.on("change:info", onInfo);
  model.on("change:log_tail", onLog);
  stop.addEventListener("click", () => {
    stop.disabled = true;
    model.send({ kind: "stop" });
  });
  const ticker = setInterval(paint, 1000);
  onInfo();
  onLog();
  return () => {
    clearInterval(ticker);
    model.off("change:info", onInfo);
    model.off("change:log_tail", onLog);
  };
}

export default { render };
