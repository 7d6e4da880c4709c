"""The new views in an exported HTML page with the network blocked: a notebook executed
headless (nbclient, widget state saved) renders TaskHistory, WorkerInspector and MeshDashboard
as read-only snapshots whose reading clicks still work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from agentfm_nb.export import export_html
from agentfm_nb.export.execute import execute_notebook
from tests.browser.conftest import block_remote

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "from agentfm_nb.gateway import LocalMeshGateway\n"
    "from agentfm_nb.client import AgentFMClient\n"
    "from agentfm_nb.widgets import MeshDashboard, TaskHistory, WorkerInspector\n"
    "gw = LocalMeshGateway(port=0, backend='embedded', artifacts_dir='artifacts').start()\n"
    "client = AgentFMClient(gw.url, artifacts_dir=gw.artifacts_dir)\n"
    "peers = {w.name: w.peer_id for w in client.workers.list()}\n"
    "_ = client.tasks.run(worker_id=peers['Scribe'], prompt='tides')",
    "history = TaskHistory(client)\nhistory",
    "ins = WorkerInspector('Scribe', client, interval=0.5)\nins",
    "dash = MeshDashboard(client, interval=0.5)\ndash",
    # work that ends after its cell: the views are published when the next cell ends
    "_ = client.tasks.scatter(['a', 'b', 'c'], peer_ids=[peers['Echo']])\n"
    "import time\ntime.sleep(1.2)",
    "time.sleep(0.5)",
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("views-export")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source = work / "views.ipynb"
    nbformat.write(nb, source)
    clean = {"AGENTFM_API_KEY": None, "AGENTFM_API_KEYS": None, "AGENTFM_GATEWAY_URL": None}
    result = execute_notebook(source, cwd=work, timeout=120, env=clean)
    assert not result.errors, result.errors
    nbformat.write(result.notebook, source)
    return export_html(source, work / "site" / "views.html", assets="inline")


@pytest.fixture
def offline(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    page.blocked = []
    block_remote(page, page.blocked)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


def test_exported_views_are_readable_snapshots(
    offline: Any, exported: Path, output_dir: Path
) -> None:
    page = offline
    page.goto(exported.as_uri())
    th = page.locator(".afm-th")
    th.locator("tr.afm-th-row").nth(3).wait_for(timeout=30_000)
    for sel in (".afm-th", ".afm-in", ".afm-db"):
        page.locator(sel).locator(".afm-banner.snap", has_text="Snapshot of").wait_for(
            timeout=30_000
        )
    rows = th.locator("tr.afm-th-row")
    assert rows.count() == 4 and "4 done" in th.inner_text()
    th.get_by_label("Filter tasks").fill("tides")
    rows.first.click()
    card = th.locator(".afm-art", has_text="report.md")
    card.wait_for(timeout=5_000)
    with page.expect_download() as dl:
        card.get_by_role("button", name="Download report.md").click()
    assert Path(dl.value.path()).read_text().startswith("#")

    ins = page.locator(".afm-in")
    assert ins.locator(".afm-in-name").inner_text() == "Scribe"
    assert "now" in (ins.get_by_role("img", name="CPU").get_attribute("aria-label") or "")
    ins.get_by_role("button", name="Dispatch").click()  # opens the pane; sending needs a kernel
    assert ins.get_by_role("button", name="Send").is_disabled()
    assert ins.get_by_label("Prompt for Scribe").is_disabled()
    assert "tides" in ins.get_by_role("table", name="Recent tasks from this kernel").inner_text()
    values = page.locator(".afm-db .afm-spark-value").all_inner_texts()
    assert values[-1] == "4", values  # online workers, from the saved samples
    page.screenshot(path=output_dir / "export_views.png", full_page=True)
    assert page.errors == [], page.errors
    assert not any(u.startswith("http") for u in page.blocked), page.blocked
