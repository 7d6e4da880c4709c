// ChatWidget view: multi-turn chat with one mesh agent; the answer streams in as chunks and is
// rendered as sanitized markdown in the host's typography (agentfm_nb/widgets/chat.py).
// Messages are patched in place by turn (a live update never rebuilds the list, so a text
// selection survives); keys typed in the box never reach the notebook.
import { ARTIFACT_CSS, type ArtifactCard, kernelFetcher, patchArtifactCards } from "../shared/artifact_cards";
import { BASE_CSS, type Buffers, containKeys, h, setAttr, setText, styleInto } from "../shared/dom";
import { formatDuration, shortPeerId } from "../shared/format";
import { renderInto } from "../shared/markdown";
import { liveness } from "../shared/snapshot";
import { throttle } from "../shared/throttle";

// Markdown borrows JupyterLab's rendered-markdown class (jp-RenderedHTMLCommon); the rules here
// are the fallback for hosts without it (marimo, plain pages), in the same theme variables.
const CSS = `
.afm-chat .afm-msgs { display: flex; flex-direction: column; gap: 6px; max-height: 480px; overflow-y: auto; padding: 4px 0; }
.afm-chat .afm-msg { border: 1px solid var(--afm-border); border-radius: 6px; padding: 4px 10px; min-width: 0; max-width: 100%; }
.afm-chat .afm-msg.user { align-self: flex-end; background: var(--afm-bg2); max-width: 85%; white-space: pre-wrap; overflow-wrap: anywhere; }
.afm-chat .afm-msg.assistant { align-self: stretch; }
.afm-chat .afm-msg.error { border-color: var(--afm-err); border-left-width: 4px; }
.afm-chat .afm-role { font-size: 11px; font-weight: 600; }
.afm-chat .afm-meta { font-size: 11px; color: var(--afm-muted); margin-top: 2px; }
.afm-chat textarea { width: 100%; min-height: 44px; resize: vertical; }
.afm-chat .afm-md { overflow-wrap: anywhere; }
.afm-chat .afm-md a { color: var(--jp-content-link-color, LinkText); text-decoration: underline; }
.afm-chat .afm-md blockquote { margin: 4px 0; padding: 0 10px; border-left: 4px solid var(--jp-border-color1, GrayText);
  color: var(--jp-ui-font-color1, CanvasText); }
.afm-chat .afm-md table { border-collapse: collapse; margin: 4px 0; }
.afm-chat .afm-md th, .afm-chat .afm-md td { border: 1px solid var(--jp-border-color1, GrayText); padding: 2px 6px; }
.afm-chat .afm-md pre, .afm-chat .afm-md code { font-family: var(--jp-code-font-family, monospace); }
.afm-chat .afm-md pre { background: var(--afm-bg2); color: var(--jp-content-font-color1, CanvasText); padding: 6px; overflow-x: auto; }
.afm-chat .afm-md p { margin: 4px 0; }
.afm-chat .afm-state { font-weight: 600; }
.afm-chat .afm-state.error::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 4px;
  margin-right: 4px; background: var(--afm-err); }
`;

interface Message {
  role: string;
  content: string;
  peer_id?: string | null;
  agent?: string | null;
  duration_s?: number | null;
  artifacts?: ArtifactCard[];
  status?: string;
  error?: string | null;
}
interface Chunk {
  kind: "chunk";
  turn: number;
  text: string;
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

interface View {
  box: HTMLElement;
  body: HTMLElement & { afmRaw?: string };
  err: HTMLElement;
  arts: HTMLElement;
  meta: HTMLElement;
  sig: string;
}

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  const live = new Map<number, string>(); // turn -> raw text streamed so far
  const views = new Map<number, View>();
  const msgs = h("div", { class: "afm-msgs", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const stateEl = h("span", { class: "afm-state" });
  const targetEl = h("span", { class: "afm-muted" });
  const status = h("span", { role: "status" }, stateEl, " · ", targetEl);
  const inputId = `afm-chat-${Math.random().toString(36).slice(2)}`;
  const input = h("textarea", { id: inputId, placeholder: "Ask the agent… (Enter sends, Shift+Enter for a new line)", rows: 2 });
  const label = h("label", { for: inputId, class: "afm-sr", text: "Message to the agent" });
  const send = h("button", { type: "button", text: "Send" });
  const stop = h("button", { type: "button", text: "Stop" });
  const retry = h("button", { type: "button", text: "Retry" });
  const fetcher = kernelFetcher(model);
  const live_ = liveness(model, () => paintStatus());
  const root = h(
    "div",
    { class: "afm afm-chat", role: "region", "aria-label": "Chat with a mesh agent" },
    live_.banner,
    msgs,
    label,
    input,
    h("div", { class: "afm-bar" }, send, stop, retry, status),
  );
  styleInto(el, BASE_CSS, ARTIFACT_CSS, CSS);
  el.append(root);
  const releaseKeys = containKeys(root);

  function rawOf(m: Message, turn: number): string {
    const streamed = live.get(turn);
    return m.status === "streaming" && streamed !== undefined && streamed.length > m.content.length ? streamed : m.content;
  }

  function viewOf(m: Message, turn: number): View {
    let v = views.get(turn);
    if (v && v.box.dataset.role === m.role) return v;
    const body = h("div", { class: m.role === "user" ? "afm-text" : "afm-md jp-RenderedHTMLCommon" });
    const err = h("div", { class: "afm-banner err", role: "alert", hidden: true });
    const arts = h("div", { class: "afm-arts", role: "list", "aria-label": "Files the agent wrote", hidden: true });
    const meta = h("div", { class: "afm-meta" });
    const box = h("div", { class: `afm-msg ${m.role}`, "data-role": m.role, "data-turn": turn }, h("div", { class: "afm-role afm-sr", text: m.role === "user" ? "You" : "Agent" }), body, err, arts, meta);
    v = { box, body, err, arts, meta, sig: "" };
    views.get(turn)?.box.remove();
    views.set(turn, v);
    return v;
  }

  function patchMessage(m: Message, turn: number): HTMLElement {
    const v = viewOf(m, turn);
    const raw = m.role === "user" ? m.content : rawOf(m, turn);
    const sig = JSON.stringify([raw.length, raw.slice(-64), m.status, m.error, m.duration_s, m.peer_id, m.agent, (m.artifacts ?? []).map((a) => a.key)]);
    if (sig === v.sig) return v.box;
    v.sig = sig;
    if (m.status !== "streaming") live.delete(turn); // the saved history has the final text
    if (m.role === "user") setText(v.body, m.content);
    else if (v.body.afmRaw !== raw) {
      renderInto(v.body, raw);
      v.body.afmRaw = raw;
      v.body.dataset.chars = String(raw.length);
    }
    v.box.classList.toggle("error", m.status === "error");
    v.err.hidden = !m.error;
    setText(v.err, m.error ? `The agent failed: ${m.error}` : "");
    const cards = m.artifacts ?? [];
    if (cards.length || !v.arts.hidden) patchArtifactCards(v.arts, cards, live_.snapshot ? null : fetcher.fetch);
    if (m.role !== "user") {
      const meta: string[] = [];
      if (m.agent) meta.push(m.agent);
      if (m.peer_id) meta.push(`peer ${shortPeerId(m.peer_id)}`);
      if (m.duration_s != null) meta.push(formatDuration(m.duration_s));
      if (m.status && m.status !== "ok") meta.push(m.status);
      setText(v.meta, meta.join(" · "));
      setAttr(v.meta, "title", m.peer_id ?? null);
    } else v.meta.hidden = true;
    return v.box;
  }

  function paintAll(): void {
    const history: Message[] = model.get("history") ?? [];
    const atBottom = msgs.scrollHeight - msgs.scrollTop - msgs.clientHeight < 24;
    let at: Element | null = msgs.firstElementChild;
    history.forEach((m, i) => {
      const box = patchMessage(m, i);
      if (box !== at) msgs.insertBefore(box, at);
      else at = at.nextElementSibling;
    });
    for (const [turn, v] of views) {
      if (turn >= history.length) {
        v.box.remove();
        views.delete(turn);
      }
    }
    if (atBottom) msgs.scrollTop = msgs.scrollHeight;
    paintStatus();
  }

  function paintStatus(): void {
    const s = model.get("status") ?? {};
    const snap = live_.snapshot;
    const streaming = s.state === "streaming" && !snap;
    stop.disabled = !streaming;
    send.disabled = streaming || snap;
    input.disabled = snap;
    retry.disabled = snap || streaming || !(model.get("history") ?? []).some((m: Message) => m.role === "user");
    const state = snap ? "snapshot" : String(s.state ?? "idle");
    setText(stateEl, state);
    stateEl.classList.toggle("error", state === "error");
    const target = s.agent ?? (s.peer_id ? shortPeerId(s.peer_id) : (s.model ?? "any worker"));
    setText(targetEl, `${target}${s.error ? ` · ${s.error}` : ""}`);
  }

  // Markdown rendering is the costly part of a fast stream: at most ~10 a second per turn, and
  // only the last block of the text (renderInto keeps completed blocks).
  const repaintLive = throttle((turn: number) => {
    const history: Message[] = model.get("history") ?? [];
    const m = history[turn];
    if (!m) return;
    const atBottom = msgs.scrollHeight - msgs.scrollTop - msgs.clientHeight < 24;
    patchMessage(m, turn);
    if (atBottom) msgs.scrollTop = msgs.scrollHeight;
  }, 100);

  const onMsg = (msg: Chunk | { kind: string }, _buffers: Buffers) => {
    if (msg.kind === "chunk") {
      const c = msg as Chunk;
      live.set(c.turn, (live.get(c.turn) ?? "") + c.text);
      repaintLive(c.turn);
    }
  };
  const onHistory = () => {
    live_.heard();
    repaintLive.flush();
    paintAll();
  };
  const onStatus = () => {
    live_.heard();
    paintStatus();
  };
  model.on("msg:custom", onMsg);
  model.on("change:history", onHistory);
  model.on("change:status", onStatus);
  const submit = () => {
    const prompt = input.value.trim();
    if (!prompt || send.disabled) return;
    input.value = "";
    model.send({ kind: "send", prompt });
  };
  send.addEventListener("click", submit);
  input.addEventListener("keydown", (ev) => {
    // Enter sends, Shift+Enter is a new line (the browser's own), as in the desktop app; an IME
    // composition's Enter only confirms the composition.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.altKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  stop.addEventListener("click", () => model.send({ kind: "stop" }));
  retry.addEventListener("click", () => model.send({ kind: "retry" }));
  paintAll();
  return () => {
    releaseKeys();
    repaintLive.cancel();
    live_.dispose();
    fetcher.dispose();
    model.off("msg:custom", onMsg);
    model.off("change:history", onHistory);
    model.off("change:status", onStatus);
  };
}

export default { render };
