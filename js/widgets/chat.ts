// ChatWidget view: multi-turn chat with one mesh agent; the answer streams in as chunks and is
// rendered as sanitized markdown (agentfm_nb/widgets/chat.py).
import { BASE_CSS, type Buffers, h, injectStyle } from "../shared/dom";
import { formatBytes, formatDuration, shortPeerId } from "../shared/format";
import { renderInto } from "../shared/markdown";
import { throttle } from "../shared/throttle";

const CSS = `
.afm-chat .afm-msgs { display: flex; flex-direction: column; gap: 6px; max-height: 480px; overflow-y: auto; padding: 4px 0; }
.afm-chat .afm-msg { border: 1px solid var(--afm-border); border-radius: 6px; padding: 4px 10px; }
.afm-chat .afm-msg.user { align-self: flex-end; background: var(--afm-bg2); max-width: 85%; white-space: pre-wrap; }
.afm-chat .afm-msg.assistant { align-self: stretch; }
.afm-chat .afm-msg.assistant pre { background: var(--afm-bg2); padding: 6px; overflow-x: auto; }
.afm-chat .afm-meta { font-size: 11px; color: var(--afm-muted); margin-top: 2px; }
.afm-chat .afm-arts { display: flex; gap: 6px; flex-wrap: wrap; margin-top: 4px; }
.afm-chat textarea { width: 100%; box-sizing: border-box; min-height: 44px; }
.afm-chat .afm-msg.error { border-color: #f5c2c0; }
`;

interface Artifact {
  name: string;
  size: number;
}
interface Message {
  role: string;
  content: string;
  peer_id?: string | null;
  duration_s?: number | null;
  artifacts?: Artifact[];
  status?: string;
  error?: string | null;
}
interface Chunk {
  kind: "chunk";
  turn: number;
  text: string;
}
interface FileMsg {
  kind: "file";
  name: string;
  mime?: string;
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

function render({ model, el }: { model: Model; el: HTMLElement }): () => void {
  injectStyle("afm-base-css", BASE_CSS);
  injectStyle("afm-chat-css", CSS);
  const live = new Map<number, string>(); // turn -> raw text streamed so far
  const msgs = h("div", { class: "afm-msgs" });
  const status = h("span", { class: "afm-muted" });
  const input = h("textarea", { placeholder: "Ask the agent… (Ctrl+Enter to send)" });
  const send = h("button", { text: "Send" });
  const stop = h("button", { text: "Stop" });
  const retry = h("button", { text: "Retry" });
  el.append(h("div", { class: "afm afm-chat" }, msgs, input, h("div", { class: "afm-bar" }, send, stop, retry, status)));
  const bodies = new Map<number, HTMLElement>();

  function messageView(m: Message, turn: number): HTMLElement {
    if (m.role === "user") return h("div", { class: "afm-msg user", text: m.content });
    const raw = m.status === "streaming" && (live.get(turn)?.length ?? 0) > m.content.length ? (live.get(turn) as string) : m.content;
    const body = h("div", { class: "afm-md" });
    renderInto(body, raw);
    (body as HTMLElement & { afmRaw?: string }).afmRaw = raw;
    body.dataset.chars = String(raw.length);
    bodies.set(turn, body);
    const meta: string[] = [];
    if (m.peer_id) meta.push(`peer ${shortPeerId(m.peer_id)}`);
    if (m.duration_s != null) meta.push(formatDuration(m.duration_s));
    if (m.status && m.status !== "ok") meta.push(m.status);
    const box = h("div", { class: `afm-msg assistant${m.status === "error" ? " error" : ""}` }, body);
    if (m.error) box.append(h("div", { class: "afm-banner err", text: m.error }));
    if (m.artifacts?.length) {
      const arts = h("div", { class: "afm-arts" });
      for (const a of m.artifacts) {
        const b = h("button", { title: "download", text: `⬇ ${a.name} (${formatBytes(a.size)})` });
        b.addEventListener("click", () => model.send({ kind: "artifact", turn, name: a.name }));
        arts.append(b);
      }
      box.append(arts);
    }
    const metaEl = h("div", { class: "afm-meta", text: meta.join(" · ") });
    if (m.peer_id) metaEl.title = m.peer_id;
    box.append(metaEl);
    return box;
  }

  function paintAll(): void {
    const history: Message[] = model.get("history") ?? [];
    bodies.clear();
    msgs.replaceChildren(...history.map((m, i) => messageView(m, i)));
    msgs.scrollTop = msgs.scrollHeight;
    paintStatus();
  }

  function paintStatus(): void {
    const s = model.get("status") ?? {};
    const streaming = s.state === "streaming";
    stop.disabled = !streaming;
    send.disabled = streaming;
    retry.disabled = streaming || !(model.get("history") ?? []).some((m: Message) => m.role === "user");
    const target = s.peer_id ? shortPeerId(s.peer_id) : (s.model ?? "any worker");
    status.textContent = `${s.state ?? "idle"} · ${target}${s.error ? ` · ${s.error}` : ""}`;
  }

  // Markdown rendering is the costly part of a fast stream: at most ~10 a second per turn, and
  // only the last block of the text (renderInto keeps completed blocks).
  const repaintLive = throttle((turn: number) => {
    const body = bodies.get(turn);
    const raw = live.get(turn) ?? "";
    if (!body) return;
    renderInto(body, raw);
    (body as HTMLElement & { afmRaw?: string }).afmRaw = raw;
    body.dataset.chars = String(raw.length);
    msgs.scrollTop = msgs.scrollHeight;
  }, 100);

  const onMsg = (msg: Chunk | FileMsg, buffers: Buffers) => {
    if (msg.kind === "chunk") {
      live.set(msg.turn, (live.get(msg.turn) ?? "") + msg.text);
      repaintLive(msg.turn);
    } else if (msg.kind === "file" && buffers[0]) {
      const blob = new Blob([buffers[0] as ArrayBuffer], { type: msg.mime ?? "application/octet-stream" });
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: msg.name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    }
  };
  const onHistory = () => {
    repaintLive.flush();
    paintAll();
  };
  model.on("msg:custom", onMsg);
  model.on("change:history", onHistory);
  model.on("change:status", paintStatus);
  const submit = () => {
    const prompt = input.value.trim();
    if (!prompt) return;
    input.value = "";
    model.send({ kind: "send", prompt });
  };
  send.addEventListener("click", submit);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      submit();
    }
  });
  stop.addEventListener("click", () => model.send({ kind: "stop" }));
  retry.addEventListener("click", () => model.send({ kind: "retry" }));
  paintAll();
  return () => {
    repaintLive.cancel();
    model.off("msg:custom", onMsg);
    model.off("change:history", onHistory);
    model.off("change:status", paintStatus);
  };
}

export default { render };
