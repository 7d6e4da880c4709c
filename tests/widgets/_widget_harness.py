"""A kernel-less page for the widget bundles: each ESM rendered in headless Chromium with a small
fake anywidget model fed the payloads the Python classes produce (used by tests and bench)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agentfm_nb.widgets import _static
from tests._chromium import CHROMIUM
from tests._chromium import CHROMIUM_ARGS as ARGS

ORIGIN = "http://afm.test"

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<script>
window.sent = []; window.models = {}; window.errors = [];
window.addEventListener("error", (e) => window.errors.push(String(e.message)));
function b64(s) { const bin = atob(s); const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i); return new DataView(u.buffer); }
function revive(v) {
  if (v && typeof v === "object" && v.__b64__ !== undefined) return b64(v.__b64__);
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    const o = {}; for (const k in v) o[k] = revive(v[k]); return o; }
  return v; }
function makeModel(id, state) {
  const handlers = {};
  const m = {
    state: revive(state),
    get(k) { return this.state[k]; },
    set(k, v) { this.state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
    save_changes() {},
    on(ev, f) { (handlers[ev] = handlers[ev] || []).push(f); },
    off(ev, f) { handlers[ev] = (handlers[ev] || []).filter((g) => g !== f); },
    send(content) { window.sent.push({ id, content });
      // a live kernel answers the views' liveness ping (js/shared/snapshot.ts)
      if (content && content.kind === "ping" && !window.noKernel)
        setTimeout(() => this.emit("msg:custom", { kind: "pong" }, []), 0); },
    emit(ev, ...args) { (handlers[ev] || []).forEach((f) => f(...args)); },
  };
  window.models[id] = m; return m;
}
window.mount = async (id, name, state) => {
  const mod = await import(`/static/${name}.js`);
  const el = document.createElement("div"); el.id = id; el.style.width = "900px";
  document.body.append(el);
  const model = makeModel(id, state);
  await mod.default.render({ model, el });
  return true;
};
window.deliver = (id, content, buffers) => {
  window.models[id].emit("msg:custom", content, buffers.map(b64));
};
window.setState = (id, key, value) => window.models[id].set(key, revive(value));
</script></body></html>"""


def encode_state(value: Any) -> Any:
    """Widget state with bytes/memoryviews as base64 (what the page's ``revive`` undoes)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__b64__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: encode_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_state(v) for v in value]
    return value


def b64_buffers(buffers: list[bytes]) -> list[str]:
    return [base64.b64encode(bytes(b)).decode() for b in buffers]


@contextmanager
def harness_page() -> Iterator[Any]:
    """A Chromium page serving ``agentfm_nb/static`` with every other request aborted."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})

            def route(r: Any) -> None:
                url = r.request.url
                if url == f"{ORIGIN}/index.html":
                    r.fulfill(body=PAGE, content_type="text/html")
                elif url.startswith(f"{ORIGIN}/static/"):
                    name = url[len(f"{ORIGIN}/static/") :]
                    path = _static.STATIC_DIR / name
                    if path.is_file() and path.resolve().is_relative_to(_static.STATIC_DIR):
                        r.fulfill(path=str(path), content_type="text/javascript")
                    else:
                        r.fulfill(status=404, body="")
                else:
                    r.abort()

            page.route("**/*", route)
            page.goto(f"{ORIGIN}/index.html")
            yield page
        finally:
            browser.close()


def mount(page: Any, wid: str, name: str, state: dict[str, Any]) -> None:
    page.evaluate(
        "([id, name, state]) => window.mount(id, name, state)",
        [wid, name, json.loads(json.dumps(encode_state(state)))],
    )


def deliver(page: Any, wid: str, content: dict[str, Any], buffers: list[bytes]) -> None:
    page.evaluate("([id, c, b]) => window.deliver(id, c, b)", [wid, content, b64_buffers(buffers)])
