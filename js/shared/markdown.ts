// Markdown from agent output, rendered with `marked` and sanitized with DOMPurify: agent text is
// untrusted, so scripts, event handlers and javascript: URLs are stripped before it hits the DOM.
import DOMPurify from "dompurify";
import { marked } from "marked";

let hooked = false;

function purifier(): typeof DOMPurify {
  if (!hooked) {
    // Links open in a new tab and never get the opener.
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true }) as string;
  return purifier().sanitize(html, {
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
    FORBID_ATTR: ["style"],
  });
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Cut markdown into blocks at line ends (never inside a code fence) every `minLines` lines, so a
 * long stream re-renders only its last block. Cuts depend only on the text before them: a
 * block, once complete, keeps the same source as the stream grows.
 */
export function splitStable(raw: string, minLines = 80): string[] {
  const out: string[] = [];
  let start = 0;
  let lines = 0;
  let inFence = false;
  let pos = 0;
  while (pos < raw.length) {
    const nl = raw.indexOf("\n", pos);
    if (nl === -1) break;
    const line = raw.slice(pos, nl).trimStart();
    if (line.startsWith("```") || line.startsWith("~~~")) inFence = !inFence;
    lines += 1;
    pos = nl + 1;
    if (lines >= minLines && !inFence && pos < raw.length) {
      out.push(raw.slice(start, pos));
      start = pos;
      lines = 0;
    }
  }
  out.push(raw.slice(start));
  return out;
}

/** Render `raw` into `el` block by block, reusing blocks whose source did not change. */
export function renderInto(el: HTMLElement, raw: string): void {
  const blocks = splitStable(raw);
  const kids = Array.from(el.children) as (HTMLElement & { afmSrc?: string })[];
  if (kids.length && kids[0]?.afmSrc === undefined) {
    el.replaceChildren();
    kids.length = 0;
  }
  blocks.forEach((src, i) => {
    let kid = kids[i];
    if (kid && kid.afmSrc === src) return;
    if (!kid) {
      kid = document.createElement("div");
      el.append(kid);
    }
    kid.innerHTML = renderMarkdown(src);
    kid.afmSrc = src;
  });
  for (let i = kids.length - 1; i >= blocks.length; i--) kids[i]?.remove();
}
