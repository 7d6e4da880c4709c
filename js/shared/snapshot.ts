// Snapshot mode, shared by every widget view: is a kernel behind this view, or is it a saved
// page (exported HTML, nbviewer, a closed kernel)? A view pings the kernel when it renders and
// then every `everyMs` while quiet; any message from the kernel (pong, diff, chunk, state
// change) proves it is live. No answer at all within `graceMs` means a saved page; a kernel
// that answered before is given up only when a host that exposes the kernel says it is gone,
// or after `lostMs` of silence: a long blocking cell delays every answer (comm messages wait
// for the cell), so the banner then names both causes. Snapshot mode: the view says
// "snapshot of <time>" (the time the kernel last saved state, `_saved_at`), disables what would
// need the kernel, and freezes relative times at the saved moment.
import { h, setText } from "./dom";

// biome-ignore lint: anywidget model typing is structural
type Model = any;

export interface Liveness {
  /** True when no kernel answers (a saved page). */
  readonly snapshot: boolean;
  /** "Now" for relative times: the saved moment in snapshot mode, else the clock (seconds). */
  now(): number;
  /** A banner element the view places where it wants ("snapshot of <time>"). */
  readonly banner: HTMLElement;
  /** Call from every handler of kernel traffic (messages, state changes). */
  heard(): void;
  dispose(): void;
}

export function formatSavedAt(epochSeconds: number): string {
  if (!Number.isFinite(epochSeconds) || epochSeconds <= 0) return "an unknown time";
  const d = new Date(epochSeconds * 1000);
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The kernel a JupyterLab / Notebook 7 widget manager talks to, when the host exposes one. */
function kernelGone(model: Model): boolean {
  try {
    const kernel = model?.widget_manager?.kernel;
    if (!kernel) return false;
    return kernel.isDisposed === true || kernel.status === "dead" || kernel.connectionStatus === "disconnected";
  } catch {
    return false;
  }
}

export function liveness(
  model: Model,
  onChange: (snapshot: boolean) => void,
  { graceMs = 2500, everyMs = 8000, lostMs = 20_000 }: { graceMs?: number; everyMs?: number; lostMs?: number } = {},
): Liveness {
  let snapshot = false;
  let lastHeard = 0;
  let pinged = 0;
  const text = h("span");
  const banner = h("div", { class: "afm-banner snap", role: "status", hidden: true }, text);
  const savedAt = () => Number(model.get("_saved_at") ?? 0);

  const set = (value: boolean, reason = "") => {
    banner.dataset.reason = reason;
    if (value === snapshot) return;
    snapshot = value;
    banner.hidden = !value;
    const why =
      reason === "silent"
        ? "the kernel has not answered for a while (closed, or busy with a long cell)"
        : "no kernel is connected";
    setText(text, `Snapshot of ${formatSavedAt(savedAt())}: ${why}, so this view is read-only.`);
    onChange(value);
  };
  const ping = () => {
    pinged = Date.now();
    try {
      model.send({ kind: "ping" });
    } catch {
      set(true, "no comm"); // a manager with no comm at all
    }
  };
  const check = () => {
    if (kernelGone(model)) return set(true, "kernel");
    const now = Date.now();
    if (lastHeard >= pinged) {
      if (now - lastHeard >= everyMs) ping();
      return;
    }
    if (lastHeard === 0 && now - pinged >= graceMs) set(true, "never");
    else if (lastHeard > 0 && now - lastHeard >= lostMs) set(true, "silent");
  };
  const heard = () => {
    lastHeard = Date.now();
    set(false);
  };
  const onMsg = (msg: { kind?: string }) => heard();
  model.on("msg:custom", onMsg);
  ping();
  const timer = setInterval(check, Math.min(500, graceMs));
  return {
    get snapshot() {
      return snapshot;
    },
    now: () => (snapshot && savedAt() > 0 ? savedAt() : Date.now() / 1000),
    banner,
    heard,
    dispose() {
      clearInterval(timer);
      model.off("msg:custom", onMsg);
    },
  };
}
