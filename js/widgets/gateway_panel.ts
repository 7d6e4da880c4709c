// GatewayPanel view: what the LocalMeshGateway is doing, its log tail and a Stop button.
// Fields are patched in place (a selected URL stays selected); the panel's own layout rules win
// over the host's (no floating dt from a page stylesheet); after stop it keeps the last URL and
// uptime; a saved page shows a frozen snapshot.
import { BASE_CSS, containKeys, h, setText, styleInto } from "../shared/dom";
import { formatDuration } from "../shared/format";
import { liveness } from "../shared/snapshot";

const CSS = `
.afm-gp .afm-gp-fields { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 4px 0; padding: 0; }
.afm-gp .afm-gp-fields > dt, .afm-gp .afm-gp-fields > dd { float: none; clear: none; width: auto; margin: 0; padding: 0;
  display: block; font-weight: normal; text-align: left; min-width: 0; overflow-wrap: anywhere; }
.afm-gp .afm-gp-fields > dt { color: var(--afm-muted); }
.afm-gp pre { max-height: 180px; overflow: auto; background: var(--afm-bg2); color: var(--jp-ui-font-color1, CanvasText);
  padding: 6px; margin: 4px 0; font-size: 11px; white-space: pre-wrap; }
.afm-gp .afm-dot { display: inline-block; width: 9px; height: 9px; border-radius: 5px; margin-right: 2px;
  background: var(--afm-border); }
.afm-gp .afm-dot.on { background: var(--afm-ok); }
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

const FIELDS = ["backend", "url", "pid", "uptime", "online workers"] as const;

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const live = liveness(model, () => paint());
  const dl = h("dl", { class: "afm-gp-fields" });
  const dd = new Map<string, HTMLElement>();
  for (const f of FIELDS) {
    const v = h("dd", { "data-field": f });
    dd.set(f, v);
    dl.append(h("dt", { text: f }), v);
  }
  const log = h("pre", { tabindex: 0, "aria-label": "gateway log" });
  const stop = h("button", { type: "button", text: "Stop gateway" });
  const title = h("b");
  const dot = h("span", { class: "afm-dot", "aria-hidden": "true" });
  const err = h("div", { class: "afm-banner err", role: "alert", hidden: true });
  const root = h(
    "div",
    { class: "afm afm-gp", role: "region", "aria-label": "AgentFM gateway" },
    live.banner,
    h("div", { class: "afm-bar" }, dot, title, stop),
    err,
    dl,
    h("details", {}, h("summary", { text: "log" }), log),
  );
  styleInto(el, BASE_CSS, CSS);
  el.append(root);
  const releaseKeys = containKeys(root);
  let base = { uptime: 0, at: Date.now() };

  function paint(): void {
    const i: Info = model.get("info") ?? {};
    const running = Boolean(i.running) && !live.snapshot;
    dot.classList.toggle("on", running);
    setText(title, `AgentFM gateway · ${live.snapshot ? (i.running ? "running when saved" : "stopped") : running ? "running" : "stopped"}`);
    stop.disabled = !running;
    const uptime = running ? base.uptime + (Date.now() - base.at) / 1000 : base.uptime;
    const values: Record<string, string> = {
      backend: i.backend ?? "–",
      url: i.url || "–",
      pid: i.pid == null ? "–" : String(i.pid),
      uptime: i.uptime_s == null && !running ? "–" : formatDuration(uptime),
      "online workers": i.online_workers == null ? "–" : String(i.online_workers),
    };
    for (const f of FIELDS) setText(dd.get(f) as HTMLElement, values[f] ?? "–");
    err.hidden = !i.error;
    setText(err, i.error ?? "");
  }
  const onInfo = () => {
    live.heard();
    const i: Info = model.get("info") ?? {};
    base = { uptime: i.uptime_s ?? 0, at: Date.now() };
    paint();
  };
  const onLog = () => {
    setText(log, model.get("log_tail") ?? "");
    log.scrollTop = log.scrollHeight;
  };
  model.on("change:info", onInfo);
  model.on("change:log_tail", onLog);
  stop.addEventListener("click", () => {
    stop.disabled = true;
    model.send({ kind: "stop" });
  });
  const ticker = setInterval(paint, 1000);
  const i0: Info = model.get("info") ?? {};
  base = { uptime: i0.uptime_s ?? 0, at: Date.now() };
  paint();
  onLog();
  return () => {
    clearInterval(ticker);
    releaseKeys();
    live.dispose();
    model.off("change:info", onInfo);
    model.off("change:log_tail", onLog);
  };
}

export default { render };
