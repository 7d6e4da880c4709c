"""Every existing widget under marimo (``marimo run`` of a small app using ``mo.ui.anywidget``):
styled inside marimo's shadow roots, no collapse over the next cell, live (not a snapshot),
keys stay in the chat and Enter sends, and text contrast holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser._widget_checks import contrast, mesh_toml
from tests.browser.conftest import block_remote, serve_marimo

pytestmark = [pytest.mark.browser, pytest.mark.slow]
pytest.importorskip("marimo")

APP = """import marimo

app = marimo.App(width="medium")


@app.cell
def _():
    import marimo as mo
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.gateway import LocalMeshGateway
    from agentfm_nb.widgets import ChatWidget, GatewayPanel, ScatterGrid, WorkerTable

    gw = LocalMeshGateway(
        port=0, backend="embedded", config="mesh.toml", artifacts_dir="artifacts"
    ).start()
    client = AgentFMClient(gw.url, artifacts_dir=gw.artifacts_dir)
    return ChatWidget, GatewayPanel, ScatterGrid, WorkerTable, client, gw, mo


@app.cell
def _(GatewayPanel, gw, mo):
    mo.ui.anywidget(GatewayPanel(gw))
    return


@app.cell
def _(WorkerTable, client, mo):
    mo.ui.anywidget(WorkerTable(client, interval=0.5))
    return


@app.cell
def _(ChatWidget, client, mo):
    mo.ui.anywidget(ChatWidget(client, model="Echo"))
    return


@app.cell
def _(ScatterGrid, client, mo):
    grid = ScatterGrid([f"prompt {i}" for i in range(40)], client=client, model="crowd")
    grid.start().result(timeout=120)
    mo.ui.anywidget(grid)
    return


@app.cell
def _(mo):
    mo.md("the next cell")
    return
"""


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("marimo")
    (root / "mesh.toml").write_text(mesh_toml())
    # marimo follows the browser's colour scheme, so one server serves a light and a dark page
    (root / "pyproject.toml").write_text('[tool.marimo.display]\ntheme = "system"\n')
    yield from serve_marimo(root, APP)


def test_widgets_in_marimo(browser: Any, marimo_url: str, output_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    blocked: list[str] = []
    block_remote(page, blocked)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.emulate_media(color_scheme="light")
        page.goto(marimo_url)
        for sel in (".afm-gp", ".afm-wt", ".afm-chat", ".afm-sg"):
            page.locator(sel).first.wait_for(timeout=90_000)
        page.locator(".afm-sg .afm-sg-stats", has_text="40/40").wait_for(timeout=90_000)
        page.wait_for_function(
            "[...document.querySelectorAll('marimo-anywidget')].filter((h) => h.shadowRoot"
            "?.querySelector('.afm-wt .afm-wt-row:not([hidden])')).length === 1",
            timeout=60_000,
        )
        # styled inside each shadow root (not in document.head, which a shadow root ignores)
        styled = page.evaluate(
            """() => [...document.querySelectorAll('marimo-anywidget')].map((h) => {
              const root = h.shadowRoot; const afm = root && root.querySelector('.afm');
              return afm ? [afm.className, Boolean(root.querySelector('style[data-afm]')),
                getComputedStyle(afm).display, getComputedStyle(afm).position] : null; })"""
        )
        widgets = [s for s in styled if s]
        assert len(widgets) == 4, styled
        assert all(s[1] and s[2] == "block" and s[3] == "relative" for s in widgets), widgets
        assert page.evaluate("document.head.querySelectorAll('style[data-afm]').length") == 0
        # the table takes its own height: the next cell starts below it
        table_bottom = page.locator(".afm-wt").bounding_box()
        next_cell = page.get_by_text("the next cell").bounding_box()
        assert table_bottom and next_cell
        assert table_bottom["y"] + table_bottom["height"] <= next_cell["y"], (
            table_bottom,
            next_cell,
        )
        # live under marimo: the kernel answers, so nothing claims to be a snapshot
        page.wait_for_timeout(3500)
        assert page.locator(".afm-banner.snap:not([hidden])").count() == 0
        # keys: Shift+Enter is a new line in the box, Enter sends, the agent answers
        box = page.locator(".afm-chat textarea")
        box.click()
        page.keyboard.type("hello")
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("marimo")
        assert box.input_value() == "hello\nmarimo"
        page.keyboard.press("Enter")
        answer = page.locator(".afm-chat .afm-msg.assistant .afm-md")
        answer.filter(has_text="marimo").wait_for(timeout=30_000)
        assert box.input_value() == ""
        result = contrast(page)  # inside marimo's shadow roots too
        assert result["checked"] > 100 and result["bad"] == [], result
        page.screenshot(path=output_dir / "marimo_widgets.png", full_page=True)
        # marimo's dark theme: the widgets follow it and stay readable
        page.emulate_media(color_scheme="dark")
        page.wait_for_function(
            "getComputedStyle(document.documentElement).colorScheme === 'dark'", timeout=10_000
        )
        page.wait_for_timeout(500)
        dark = contrast(page)
        assert dark["checked"] > 100 and dark["bad"] == [], dark
        page.screenshot(path=output_dir / "marimo_widgets_dark.png", full_page=True)
        assert errors == [], errors
        assert blocked == [] or all("127.0.0.1" not in u for u in blocked)
    finally:
        context.close()
