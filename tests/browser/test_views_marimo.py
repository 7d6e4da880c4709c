"""The new views in marimo (``marimo run`` of a small app, ``mo.ui.anywidget``): rendered and
styled inside marimo's shadow roots, live, readable by keyboard, light and dark contrast."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser._widget_checks import contrast
from tests.browser.conftest import block_remote, serve_marimo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APP = """
import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.gateway import LocalMeshGateway
    from agentfm_nb.widgets import MeshDashboard, TaskHistory, WorkerInspector

    gw = LocalMeshGateway(port=0, backend="embedded", artifacts_dir="artifacts").start()
    client = AgentFMClient(gw.url, artifacts_dir=gw.artifacts_dir)
    peers = {w.name: w.peer_id for w in client.workers.list()}
    client.tasks.run(worker_id=peers["Echo"], prompt="hello marimo")
    _ = client.tasks.run(worker_id=peers["Scribe"], prompt="tides")
    return MeshDashboard, TaskHistory, WorkerInspector, client, mo


@app.cell
def _(TaskHistory, client, mo):
    history = mo.ui.anywidget(TaskHistory(client))
    history
    return


@app.cell
def _(WorkerInspector, client, mo):
    inspector = mo.ui.anywidget(WorkerInspector("Scribe", client, interval=0.5))
    inspector
    return


@app.cell
def _(MeshDashboard, client, mo):
    dashboard = mo.ui.anywidget(MeshDashboard(client, interval=0.5))
    dashboard
    return


if __name__ == "__main__":
    app.run()
"""


@pytest.fixture(scope="module")
def marimo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("marimo-views")
    config = root / "config" / "marimo"
    config.mkdir(parents=True)
    # follow the browser's colour scheme, so one server serves the light and the dark page
    (config / "marimo.toml").write_text('[display]\ntheme = "system"\n')
    env = {"XDG_CONFIG_HOME": str(root / "config")}
    yield from serve_marimo(root, textwrap.dedent(APP), env)


def _open(browser: Any, url: str, scheme: str) -> Any:
    context = browser.new_context(viewport={"width": 1300, "height": 1600}, color_scheme=scheme)
    page = context.new_page()
    page.blocked = []
    block_remote(page, page.blocked)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.goto(url)
    page.locator(".afm-th tr.afm-th-row").nth(1).wait_for(timeout=90_000)
    page.locator(".afm-in .afm-in-name", has_text="Scribe").wait_for(timeout=60_000)
    return page


def test_views_render_styled_and_live_in_marimo(
    browser: Any, marimo_url: str, output_dir: Path
) -> None:
    page = _open(browser, marimo_url, "light")
    try:
        th = page.locator(".afm-th")
        # styles reached the shadow root: the sticky header and the theme font size apply
        assert th.locator("th.c-prompt").evaluate("(e) => getComputedStyle(e).position") == (
            "sticky"
        )
        assert th.evaluate("(e) => getComputedStyle(e).fontSize") == "12px"
        rows = th.locator("tr.afm-th-row")
        assert rows.count() == 2 and "tides" in rows.first.inner_text()
        th.get_by_label("Filter tasks").fill("tides")
        rows.first.focus()
        page.keyboard.press("Enter")
        th.locator(".afm-art", has_text="report.md").wait_for(timeout=10_000)
        ins = page.locator(".afm-in")
        spark = ins.get_by_role("img", name="CPU")
        spark_label = ""
        for _ in range(60):
            spark_label = spark.get_attribute("aria-label") or ""
            if "now" in spark_label:
                break
            page.wait_for_timeout(250)
        assert "now" in spark_label, spark_label
        assert "12D3KooW" in ins.locator("dl").inner_text()
        db = page.locator(".afm-db")
        assert db.locator(".afm-db-tile").count() == 5
        db.locator(".afm-spark-value", has_text="4").last.wait_for(timeout=30_000)
        light = contrast(page, ".afm")
        assert light["checked"] > 30 and light["bad"] == [], light
        page.screenshot(path=output_dir / "marimo_views_light.png", full_page=True)
        assert page.errors == [], page.errors
    finally:
        page.context.close()

    page = _open(browser, marimo_url, "dark")
    try:
        dark = contrast(page, ".afm")
        assert dark["checked"] > 30 and dark["bad"] == [], dark
        page.screenshot(path=output_dir / "marimo_views_dark.png", full_page=True)
        assert page.errors == [], page.errors
    finally:
        page.context.close()
