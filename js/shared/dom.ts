// Tiny DOM helpers shared by the widget views: element creation, in-place updates that create
// no nodes when nothing changed (keyed patching), styles scoped to the widget's own root, and
// keyboard containment so typing in a widget never drives the notebook around it.

type Attrs = Record<string, string | number | boolean | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

/**
 * Set an element's text only when it differs. Assigning `textContent` always replaces the text
 * node (even with the same string), which wipes a user's text selection and churns the DOM.
 */
export function setText(el: Element, text: string): void {
  const first = el.firstChild;
  if (first && first === el.lastChild && first.nodeType === 3) {
    if ((first as Text).data !== text) (first as Text).data = text;
  } else if (el.textContent !== text || el.childNodes.length > 1) el.textContent = text;
}

/** Set (or with null, remove) an attribute only when it differs. */
export function setAttr(el: Element, name: string, value: string | null): void {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

export function setStyle(el: HTMLElement, prop: string, value: string): void {
  if (el.style.getPropertyValue(prop) !== value) el.style.setProperty(prop, value);
}

/**
 * The widget's stylesheet as a <style> inside its own element: it reaches shadow-root hosts
 * (marimo), exported pages and every front-end alike, and goes away with the view. Never in
 * document.head, which a shadow root does not see.
 */
export function styleInto(el: HTMLElement, ...css: string[]): HTMLStyleElement {
  const style = document.createElement("style");
  style.dataset.afm = "";
  style.textContent = css.join("\n");
  el.prepend(style);
  return style;
}

/**
 * Keys typed in the widget stay in the widget: JupyterLab, Notebook 7 and marimo bind
 * Shift+Enter, Escape, A/B/D... on ancestors, and a keystroke that bubbles out runs a cell or
 * deletes one. Lumino also honours `data-lm-suppress-shortcuts` on an ancestor of the target.
 */
export function containKeys(root: HTMLElement): () => void {
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const stop = (ev: Event) => {
    const k = ev as KeyboardEvent;
    // Save stays the notebook's (Ctrl/Cmd+S); every other key is the widget's
    if ((k.ctrlKey || k.metaKey) && !k.altKey && k.key?.toLowerCase() === "s") return;
    ev.stopPropagation();
  };
  for (const type of ["keydown", "keyup", "keypress"]) root.addEventListener(type, stop);
  return () => {
    for (const type of ["keydown", "keyup", "keypress"]) root.removeEventListener(type, stop);
  };
}

/** Widget messages arrive with DataView or ArrayBuffer buffers depending on the manager. */
export type Buffers = readonly (ArrayBuffer | ArrayBufferView)[];

// Colours come only from JupyterLab's theme variables, so light, dark and high-contrast themes
// all read; the fallbacks are CSS system colours, which follow the host's color-scheme where
// JupyterLab's variables are absent (marimo, plain pages). Text always sits on a layout colour
// with a font colour of the same theme, never on a pastel of our own.
export const BASE_CSS = `
.afm { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px; line-height: 1.4;
  color: var(--jp-ui-font-color1, CanvasText); background: var(--jp-layout-color1, Canvas);
  --afm-border: var(--jp-border-color2, GrayText); --afm-muted: var(--jp-ui-font-color2, color-mix(in srgb, CanvasText 70%, Canvas));
  --afm-bg2: var(--jp-layout-color2, Canvas); --afm-fg0: var(--jp-ui-font-color0, CanvasText);
  --afm-ok: var(--jp-success-color1, #2e7d32); --afm-warn: var(--jp-warn-color1, #b35900);
  --afm-err: var(--jp-error-color1, #c62828); --afm-info: var(--jp-brand-color1, #1976d2);
  --afm-focus: var(--jp-brand-color1, Highlight);
  display: block; position: relative; box-sizing: border-box; max-width: 100%; min-width: 0; text-align: left; }
.afm *, .afm *::before, .afm *::after { box-sizing: border-box; }
.afm button { font: inherit; padding: 2px 8px; border: 1px solid var(--afm-border); border-radius: 3px;
  background: var(--jp-layout-color1, ButtonFace); color: var(--jp-ui-font-color1, ButtonText); cursor: pointer; }
.afm button:disabled { opacity: .6; cursor: default; }
.afm :focus-visible { outline: 2px solid var(--afm-focus); outline-offset: 1px; }
.afm input[type=text], .afm input[type=search], .afm textarea, .afm select { font: inherit; padding: 2px 6px;
  border: 1px solid var(--afm-border); border-radius: 3px; background: var(--jp-layout-color1, Field);
  color: var(--jp-ui-font-color1, FieldText); }
.afm .afm-bar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; padding: 4px 0; min-width: 0; }
.afm .afm-muted { color: var(--afm-muted); opacity: 1; }
.afm .afm-banner { padding: 4px 8px; border-radius: 3px; margin: 4px 0; background: var(--jp-layout-color1, Canvas);
  color: var(--jp-ui-font-color1, CanvasText); border: 1px solid var(--afm-border); border-left-width: 4px; }
.afm .afm-banner.err { border-color: var(--afm-err); }
.afm .afm-banner.info { border-color: var(--afm-info); }
.afm .afm-banner.snap { border-color: var(--afm-warn); }
.afm .afm-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; line-height: 15px;
  border: 1px solid var(--afm-border); color: var(--jp-ui-font-color1, CanvasText); background: var(--jp-layout-color1, Canvas); }
.afm .afm-badge::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 4px;
  margin-right: 4px; background: currentColor; vertical-align: 0; }
.afm .b-available { border-color: var(--afm-ok); } .afm .b-available::before { background: var(--afm-ok); }
.afm .b-busy { border-color: var(--afm-warn); } .afm .b-busy::before { background: var(--afm-warn); }
.afm .b-offline::before, .afm .b-unknown::before { background: var(--afm-border); }
.afm .afm-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;
