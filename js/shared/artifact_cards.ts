// Artifact cards: one card per file a task wrote (name, size, preview, Open, Download).
// Payload from agentfm_nb/widgets/artifacts.py. Cards are keyed by `key`, so a live update adds
// or updates cards in place (focus and selection survive). Files saved inline as data: URLs open
// with no kernel; bigger ones are asked from the kernel through the widget's `artifact` message.
import { h } from "./dom";
import { formatBytes } from "./format";

export interface ArtifactCard {
  key: string;
  name: string;
  size: number;
  mime: string;
  kind: "image" | "text" | "file";
  preview?: string;
  truncated?: boolean;
  url?: string;
}

/** Returns the file's bytes from the kernel, or null when it cannot (no kernel, too big). */
export type ArtifactFetch = (key: string) => Promise<Blob | null>;

export const ARTIFACT_CSS = `
.afm-arts { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.afm-art { border: 1px solid var(--jp-border-color2, GrayText); border-radius: 4px; padding: 4px 6px;
  background: var(--jp-layout-color1, Canvas); color: var(--jp-ui-font-color1, CanvasText);
  width: 220px; max-width: 100%; box-sizing: border-box; display: flex; flex-direction: column; gap: 3px; }
.afm-art-head { display: flex; gap: 6px; align-items: baseline; min-width: 0; }
.afm-art-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; }
.afm-art-size { color: var(--afm-muted, var(--jp-ui-font-color2, CanvasText)); font-size: 11px; white-space: nowrap; }
.afm-art pre { margin: 0; max-height: 96px; overflow: auto; font-size: 11px; white-space: pre-wrap;
  word-break: break-word; background: var(--jp-layout-color2, Canvas); color: inherit; padding: 3px; }
.afm-art img { max-width: 100%; max-height: 120px; object-fit: contain; align-self: flex-start; }
.afm-art-actions { display: flex; gap: 4px; }
.afm-art-actions button { font: inherit; font-size: 11px; padding: 1px 6px; cursor: pointer;
  border: 1px solid var(--jp-border-color1, GrayText); border-radius: 3px;
  background: var(--jp-layout-color2, ButtonFace); color: var(--jp-ui-font-color1, CanvasText); }
.afm-art-actions button:disabled { opacity: .55; cursor: default; }
.afm-art-actions button:focus-visible { outline: 2px solid var(--jp-brand-color1, Highlight); outline-offset: 1px; }
`;

function dataUrlToBlob(url: string): Blob {
  const comma = url.indexOf(",");
  const meta = url.slice(5, comma);
  const mime = meta.split(";")[0] || "application/octet-stream";
  const body = url.slice(comma + 1);
  if (!meta.endsWith(";base64")) return new Blob([decodeURIComponent(body)], { type: mime });
  const bin = atob(body);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  // Only plain text and raster images open in the browser; anything else downloads.
  return new Blob([bytes], { type: mime });
}

async function blobOf(card: ArtifactCard, fetch: ArtifactFetch | null): Promise<Blob | null> {
  if (card.url) return dataUrlToBlob(card.url);
  return fetch ? fetch(card.key) : null;
}

function openBlob(blob: Blob): void {
  const url = URL.createObjectURL(blob);
  window.open(url, "_blank", "noopener");
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, style: "display:none" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

interface CardNode extends HTMLElement {
  _afmSig?: string;
  _afmCard?: ArtifactCard;
}

function signature(c: ArtifactCard): string {
  return `${c.name}|${c.size}|${c.kind}|${c.url ? c.url.length : 0}|${c.preview?.length ?? 0}`;
}

function buildCard(card: ArtifactCard, fetch: ArtifactFetch | null): CardNode {
  const reachable = Boolean(card.url) || fetch !== null;
  const node: CardNode = h("div", {
    class: "afm-art",
    role: "group",
    "aria-label": `File ${card.name}, ${formatBytes(card.size)}`,
    "data-key": card.key,
  });
  node.append(
    h(
      "div",
      { class: "afm-art-head" },
      h("span", { class: "afm-art-name", title: card.key, text: card.name }),
      h("span", { class: "afm-art-size", text: formatBytes(card.size) }),
    ),
  );
  if (card.kind === "image" && card.url) {
    node.append(h("img", { src: card.url, alt: `Preview of ${card.name}`, loading: "lazy" }));
  } else if (card.kind === "text" && card.preview) {
    const pre = h("pre", { tabindex: 0, "aria-label": `Start of ${card.name}` });
    pre.textContent = card.preview + (card.truncated ? "\n…" : "");
    node.append(pre);
  }
  const why = reachable ? "" : "not saved in this snapshot";
  const open = h("button", {
    type: "button",
    class: "afm-art-open",
    "aria-label": `Open ${card.name}`,
    text: "Open",
    disabled: !reachable,
    title: why || `Open ${card.name} in a new tab`,
  });
  const save = h("button", {
    type: "button",
    class: "afm-art-download",
    "aria-label": `Download ${card.name}`,
    text: "Download",
    disabled: !reachable,
    title: why || `Download ${card.name}`,
  });
  const run = (act: (b: Blob) => void) => async () => {
    const blob = await blobOf(node._afmCard ?? card, fetch);
    if (blob) act(blob);
  };
  open.addEventListener("click", run(openBlob));
  save.addEventListener("click", run((b) => downloadBlob(b, card.name)));
  node.append(h("div", { class: "afm-art-actions" }, open, save));
  node._afmSig = signature(card);
  node._afmCard = card;
  return node;
}

/** Make `container` show exactly `cards`, reusing unchanged card nodes (keyed by `key`). */
export function patchArtifactCards(
  container: HTMLElement,
  cards: readonly ArtifactCard[],
  fetch: ArtifactFetch | null = null,
): void {
  container.classList.add("afm-arts");
  const old = new Map<string, CardNode>();
  for (const child of Array.from(container.children) as CardNode[]) {
    old.set(child.dataset.key ?? "", child);
  }
  let at: Element | null = container.firstElementChild;
  for (const card of cards) {
    let node = old.get(card.key);
    if (!node || node._afmSig !== signature(card)) {
      const fresh = buildCard(card, fetch);
      if (node) node.replaceWith(fresh);
      node = fresh;
    }
    old.delete(card.key);
    if (node !== at) container.insertBefore(node, at);
    else at = at.nextElementSibling;
  }
  for (const stale of old.values()) stale.remove();
  container.hidden = cards.length === 0;
}

/** A new card list element for `cards`. */
export function artifactCards(cards: readonly ArtifactCard[], fetch: ArtifactFetch | null = null): HTMLElement {
  const box = h("div", { class: "afm-arts", role: "list", "aria-label": "Files" });
  patchArtifactCards(box, cards, fetch);
  return box;
}

// biome-ignore lint: anywidget model typing is structural
type Model = any;

/**
 * Fetches artifact bytes from the kernel: sends `{kind: "artifact", key, ...extra}` and waits
 * for the `{kind: "artifact_file", key}` reply with one buffer. Returns null after `waitMs`.
 * Call the returned `dispose` when the view goes away.
 */
export function kernelFetcher(
  model: Model,
  extra: Record<string, unknown> = {},
  waitMs = 20_000,
): { fetch: ArtifactFetch; dispose: () => void } {
  const waiting = new Map<string, ((b: Blob | null) => void)[]>();
  const onMsg = (msg: Record<string, unknown>, buffers: readonly (ArrayBuffer | ArrayBufferView)[]) => {
    if (!msg || msg.kind !== "artifact_file") return;
    const key = String(msg.key ?? "");
    const resolvers = waiting.get(key);
    if (!resolvers) return;
    waiting.delete(key);
    const buf = buffers?.[0];
    const blob = buf ? new Blob([buf as ArrayBuffer], { type: String(msg.mime ?? "application/octet-stream") }) : null;
    for (const r of resolvers) r(blob);
  };
  model.on("msg:custom", onMsg);
  const fetch: ArtifactFetch = (key) =>
    new Promise((resolve) => {
      const settle = (b: Blob | null) => {
        clearTimeout(timer);
        resolve(b);
      };
      const timer = setTimeout(() => {
        const l = waiting.get(key) ?? [];
        waiting.set(key, l.filter((r) => r !== settle));
        resolve(null);
      }, waitMs);
      waiting.set(key, [...(waiting.get(key) ?? []), settle]);
      model.send({ kind: "artifact", key, ...extra });
    });
  return { fetch, dispose: () => model.off("msg:custom", onMsg) };
}
