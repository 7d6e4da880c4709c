// Tiny DOM helpers shared by the widget views.

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

const injected = new Set<string>();

/** Add a widget's stylesheet to the document once (exported pages included). */
export function injectStyle(id: string, css: string): void {
  if (injected.has(id) || document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.append(style);
  injected.add(id);
}

/** Widget messages arrive with DataView or ArrayBuffer buffers depending on the manager. */
export type Buffers = readonly (ArrayBuffer | ArrayBufferView)[];

export const BASE_CSS = `
.afm { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); --afm-border: var(--jp-border-color2, #ddd);
  --afm-muted: var(--jp-ui-font-color2, #666); --afm-bg2: var(--jp-layout-color2, #f3f3f3); }
.afm button { font: inherit; padding: 2px 8px; border: 1px solid var(--afm-border); border-radius: 3px;
  background: var(--jp-layout-color1, #fff); color: inherit; cursor: pointer; }
.afm button:disabled { opacity: .5; cursor: default; }
.afm input[type=text], .afm textarea { font: inherit; padding: 2px 6px; border: 1px solid var(--afm-border);
  border-radius: 3px; background: var(--jp-layout-color1, #fff); color: inherit; }
.afm .afm-bar { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; padding: 4px 0; }
.afm .afm-muted { color: var(--afm-muted); }
.afm .afm-banner { padding: 4px 8px; border-radius: 3px; margin: 4px 0; }
.afm .afm-banner.err { background: #fdecea; color: #8a1c1c; border: 1px solid #f5c2c0; }
.afm .afm-banner.info { background: #eef5fd; color: #1c4a8a; border: 1px solid #c0d8f5; }
.afm .afm-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; line-height: 16px; }
.afm .b-available { background: #e3f6e8; color: #166534; }
.afm .b-busy { background: #fff4d6; color: #8a5a00; }
.afm .b-offline { background: #eee; color: #666; }
`;
