// In-page checks of the widget browser tests (loaded by tests/browser/_widget_checks.py).
// contrast(sel): WCAG contrast of every visible text in the widgets, on its composited background.
// churn([sel, ms]): nodes added under sel during ms milliseconds (an idle live view adds none).
// align(root): for each WorkerTable column shown, header and first row cell start at the same x.
// width(px): make every notebook output area exactly px wide.
window.afmChecks = {
  contrast: (sel) => {
  const parse = (c) => {
    const s = c.match(/color\(srgb ([^)]+)\)/);  // color-mix() computes to color(srgb r g b / a)
    if (s) { const p = s[1].split(/[ /]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
    const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, under) => { const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]); };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const pageBg = parse(getComputedStyle(document.body).backgroundColor) || [255, 255, 255, 1];
  const bgOf = (el) => { const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) layers.push(c);
      if (c && c[3] >= 1) break; }
    let bg = pageBg[3] >= 1 ? pageBg : [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg; };
  const bad = []; let checked = 0;
  // widgets inside open shadow roots (marimo) count too
  const roots = [...document.querySelectorAll(sel)];
  for (const host of document.querySelectorAll('*')) {
    if (host.shadowRoot) roots.push(...host.shadowRoot.querySelectorAll(sel));
  }
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement; if (!el || !n.data.trim()) continue;
      if (el.closest('.afm-md, style, [hidden], :disabled, option, .afm-sr')) continue;
      const r = el.getBoundingClientRect(); if (!r.width || !r.height) continue;
      const cs = getComputedStyle(el); if (cs.visibility === 'hidden') continue;
      const fg0 = parse(cs.color); if (!fg0) continue;
      const bg = bgOf(el); const fg = over(fg0, bg);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05); checked += 1;
      if (ratio < 4.5) bad.push(`${ratio.toFixed(2)} ${cs.color} on ${bg.join(',')}: ${n.data.trim().slice(0, 30)}`);
    }
  }
  return { checked, bad };
},
  churn: async ([sel, ms]) => {
  let added = 0;
  const obs = new MutationObserver((recs) => { for (const r of recs) added += r.addedNodes.length; });
  for (const el of document.querySelectorAll(sel)) obs.observe(el, { childList: true, subtree: true });
  await new Promise((r) => setTimeout(r, ms));
  obs.disconnect();
  return added;
},
  align: (root) => {
  const el = document.querySelector(root);
  const head = [...el.querySelectorAll('.afm-wt-head > span[class^=c-]')].filter((c) => c.offsetParent);
  const row = el.querySelector('.afm-wt-row:not([hidden])');
  const scroller = el.querySelector('.afm-wt-scroll');
  const out = { shown: head.map((c) => c.className.slice(2)), misaligned: [],
    overflow: scroller.scrollWidth - scroller.clientWidth, width: scroller.clientWidth };
  for (const c of head) {
    const cell = row.querySelector('.' + c.className.split(' ')[0]);
    const d = Math.abs(cell.getBoundingClientRect().left - c.getBoundingClientRect().left);
    if (d > 1) out.misaligned.push(c.className);
  }
  return out;
},
  width: (px) => { let s = document.getElementById('afm-test-width');
        if (!s) { s = document.createElement('style'); s.id = 'afm-test-width'; document.head.append(s); }
        s.textContent = `.jp-OutputArea-output { width: ${px}px !important; max-width: ${px}px !important;
          min-width: 0 !important; flex: 0 0 ${px}px !important; }`; },
};
