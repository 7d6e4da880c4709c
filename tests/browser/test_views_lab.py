"""The new views in a real JupyterLab 4 (one notebook run shared by the module): TaskHistory,
WorkerInspector and MeshDashboard live, keyboard use, files, 640 px, light and dark contrast,
no DOM churn while idle-live, and a read-only snapshot once the kernel is gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser._widget_checks import churn, contrast, mesh_toml, set_output_width
from tests.browser.conftest import Lab, block_remote, open_notebook, run_all, wait_kernel_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "views.ipynb"
VIEWS = ".afm-th, .afm-in, .afm-db"
CELLS = [
    "from agentfm_nb.gateway import LocalMeshGateway\n"
    "from agentfm_nb.client import AgentFMClient\n"
    "from agentfm_nb.widgets import MeshDashboard, TaskHistory, WorkerInspector\n"
    "gw = LocalMeshGateway(port=0, backend='embedded', config='mesh.toml',"
    " artifacts_dir='view-artifacts').start()\n"
    "client = AgentFMClient(gw.url, artifacts_dir=gw.artifacts_dir)\n"
    "peers = {w.name: w.peer_id for w in client.workers.list()}\n"
    "for name, prompt in [('Echo', 'hello there'), ('Writer', 'write it'), ('Broken', 'go')]:\n"
    "    client.tasks.run(worker_id=peers[name], prompt=prompt)",
    "history = TaskHistory(client)\nhistory",
    "ins = WorkerInspector('Writer', client, interval=0.5)\nins",
    "dash = MeshDashboard(client, interval=0.5)\ndash",
    "import time\ntime.sleep(1.5)\n"
    "_ = client.tasks.scatter([f'p{i}' for i in range(6)], peer_ids=[peers['Echo']])",
]


def _write_notebook(root: Path) -> None:
    (root / "mesh.toml").write_text(mesh_toml())
    cells = [
        {"cell_type": "code", "source": s, "metadata": {}, "outputs": [], "execution_count": None}
        for s in CELLS
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": kernelspec},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / NOTEBOOK).write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def views(browser: Any, lab: Lab) -> Any:
    _write_notebook(lab.root)
    context = browser.new_context(viewport={"width": 1600, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    page.blocked = []
    block_remote(page, page.blocked)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    open_notebook(page, lab, NOTEBOOK, cells=len(CELLS))
    run_all(page)
    page.wait_for_function(
        "document.querySelectorAll('.afm-th tr.afm-th-row').length >= 9", timeout=120_000
    )
    wait_kernel_idle(page, lab)
    try:
        yield page
    finally:
        context.close()


def _shot(page: Any, output_dir: Path, name: str, sel: str) -> None:
    page.locator(sel).first.screenshot(path=output_dir / f"lab_views_{name}.png")


def _cells(page: Any) -> int:
    return int(page.locator(".jp-Notebook .jp-Cell").count())


def test_task_history_live_filter_keyboard_and_files(views: Any, output_dir: Path) -> None:
    page = views
    th = page.locator(".afm-th")
    rows = th.locator("tr.afm-th-row")
    # three before the widget, then the scatter's six live (plus any attempt a full worker
    # refused in-band and the engine retried: each one is a dispatch, shown as failed)
    table = page.evaluate(
        "[...document.querySelectorAll('.afm-th tr.afm-th-row')].map((r) => ["
        "r.querySelector('.c-agent').textContent, r.querySelector('.c-status').textContent,"
        "r.querySelector('.c-prompt').textContent])"
    )
    done = sorted(p for _, st, p in table if st == "done" and p.startswith("p"))
    assert done == [f"p{i}" for i in range(6)], table
    assert [st for a, st, _ in table if a == "Broken"] == ["failed"], str(table)
    counts = th.locator(".afm-bar [role=status]").inner_text()
    assert counts.startswith(f"{len(table)} tasks") and "8 done" in counts, counts
    assert rows.first.locator(".c-prompt").inner_text().startswith("p")  # newest first
    _shot(page, output_dir, "history", ".afm-th")

    search = th.get_by_label("Filter tasks")
    search.fill("write")
    assert rows.count() == 1 and "Writer" in rows.first.inner_text()
    rows.first.focus()
    page.keyboard.press("Enter")
    card = th.locator(".afm-art", has_text="report.md")
    card.wait_for(timeout=10_000)
    assert rows.first.get_attribute("aria-expanded") == "true"
    with page.expect_download() as dl:
        card.get_by_role("button", name="Download report.md").click()
    assert Path(dl.value.path()).read_text().startswith("# Report")

    search.fill("Broken")
    th.get_by_label("Status").select_option("failed")
    assert rows.count() == 1 and "Broken" in rows.first.inner_text()
    rows.first.click()
    assert "error" in th.locator(".afm-th-detail").inner_text()
    th.get_by_label("Status").select_option("done")
    assert rows.count() == 0 and th.locator(".afm-th-empty").inner_text() == (
        "No task matches the filter."
    )
    th.get_by_label("Status").select_option("")
    # keys typed in the widget never reach the notebook (A / B would insert cells)
    cells = _cells(page)
    search.focus()
    for key in ("a", "b", "Escape", "Shift+Enter"):
        page.keyboard.press(key)
    assert _cells(page) == cells
    search.fill("")
    rows.first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.seq") == rows.nth(1).get_attribute(
        "data-seq"
    )
    assert churn(page, ".afm-th", 1500) == 0


def test_inspector_facts_sparklines_dispatch_and_history(views: Any, output_dir: Path) -> None:
    page = views
    ins = page.locator(".afm-in")
    assert ins.locator(".afm-in-name").inner_text() == "Writer"
    facts = ins.locator("dl").inner_text()
    assert "peer id" in facts and "12D3KooW" in facts and "honesty" in facts
    cpu = ins.get_by_role("img", name="CPU")
    page.wait_for_function(
        "document.querySelector('.afm-in .afm-spark').getAttribute('aria-label').includes('now')"
    )
    assert "samples" in (cpu.get_attribute("aria-label") or "")
    recent = ins.get_by_role("table", name="Recent tasks from this kernel")
    assert recent.locator("tbody tr").count() == 1 and "write it" in recent.inner_text()
    # idle-live: sparklines redraw twice a second by attribute writes, never new nodes
    assert churn(page, ".afm-in", 1500) == 0

    ins.get_by_role("button", name="Dispatch").click()
    box = ins.get_by_label("Prompt for Writer")
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    box.press_sequentially("first line")
    page.keyboard.press("Shift+Enter")
    box.press_sequentially("second")
    assert box.input_value() == "first line\nsecond"
    page.keyboard.press("Enter")
    ins.locator(".afm-in-out", has_text="wrote report.md").wait_for(timeout=30_000)
    ins.locator(".afm-art", has_text="report.md").wait_for(timeout=30_000)
    page.wait_for_function(
        "document.querySelectorAll('.afm-in table tbody tr').length === 2", timeout=30_000
    )
    assert box.input_value() == ""
    hist = ins.get_by_role("button", name="History")
    hist.click()
    assert hist.get_attribute("aria-expanded") == "false" and recent.is_hidden()
    hist.click()
    assert recent.is_visible()
    _shot(page, output_dir, "inspector", ".afm-in")


def test_dashboard_trends(views: Any, output_dir: Path) -> None:
    page = views
    db = page.locator(".afm-db")
    assert db.locator(".afm-db-tile").count() == 5
    page.wait_for_function(
        "(() => { const v = [...document.querySelectorAll('.afm-db .afm-spark-value')]"
        ".map((e) => e.textContent); return v[0] !== '–' && v[4] === '15'; })()",
        timeout=30_000,
    )
    values = db.locator(".afm-spark-value").all_inner_texts()
    assert values[3].endswith("%") and values[4] == "15", values  # Sleeper is offline
    assert db.get_by_role("img", name="Tasks / min").is_visible()
    assert "tasks so far" in db.inner_text()
    _shot(page, output_dir, "dashboard", ".afm-db")


def test_contrast_light_dark_and_640px(views: Any, output_dir: Path) -> None:
    page = views
    set_output_width(page, 960)
    light = contrast(page, VIEWS)
    assert light["checked"] > 60 and light["bad"] == [], light
    set_output_width(page, 640)
    assert page.locator(".afm-th th.c-started").is_hidden()
    assert page.locator(".afm-th th.c-prompt").is_visible()
    overflow = page.evaluate(
        "[...document.querySelectorAll('.afm-th, .afm-in, .afm-db')]"
        ".map((e) => e.scrollWidth - e.clientWidth)"
    )
    assert max(overflow) <= 1, overflow
    _shot(page, output_dir, "640px", ".jp-Notebook")
    set_output_width(page, 960)
    _theme(page, "JupyterLab Dark", "false")
    try:
        dark = contrast(page, VIEWS)
        assert dark["checked"] > 60 and dark["bad"] == [], dark
        for sel, name in ((".afm-th", "history"), (".afm-in", "inspector"), (".afm-db", "dash")):
            _shot(page, output_dir, f"{name}_dark", sel)
    finally:
        _theme(page, "JupyterLab Light", "true")


def _theme(page: Any, name: str, light: str) -> None:
    page.locator('.lm-MenuBar-item:has-text("Settings")').first.click()
    page.locator('.lm-Menu-item:has-text("Theme")').first.hover()
    page.locator(f'.lm-Menu-item:has-text("{name}")').first.click()
    page.wait_for_function(f"document.body.dataset.jpThemeLight === '{light}'", timeout=20_000)
    page.wait_for_timeout(800)


def test_closed_kernel_leaves_readable_snapshots(views: Any, lab: Lab, output_dir: Path) -> None:
    page = views
    sessions = httpx.get(f"{lab.url}/api/sessions", timeout=10).json()
    ours = [s["kernel"]["id"] for s in sessions if s["path"].endswith(NOTEBOOK)]
    assert len(ours) == 1
    # from the page, with its XSRF cookie: the server refuses a bare DELETE (403)
    status = page.evaluate(
        """async (id) => { const x = document.cookie.match(/_xsrf=([^;]+)/);
        const r = await fetch(`/api/kernels/${id}`, { method: "DELETE",
          headers: { "X-XSRFToken": x ? decodeURIComponent(x[1]) : "" } });
        return r.status; }""",
        ours[0],
    )
    assert status == 204, status
    for sel in (".afm-th", ".afm-in", ".afm-db"):
        banner = page.locator(sel).locator(".afm-banner.snap", has_text="Snapshot of")
        banner.wait_for(timeout=30_000)
    ins = page.locator(".afm-in")
    assert ins.get_by_role("button", name="Send").is_disabled()
    assert ins.get_by_label("Prompt for Writer").is_disabled()
    # reading still works from the saved state: a row's detail and its inline file
    th = page.locator(".afm-th")
    th.get_by_label("Filter tasks").fill("write it")
    row = th.locator("tr.afm-th-row").first
    if row.get_attribute("aria-expanded") != "true":  # still open from the first test
        row.click()
    card = th.locator(".afm-art", has_text="report.md")
    card.wait_for(timeout=5_000)
    with page.expect_download() as dl:
        card.get_by_role("button", name="Download report.md").click()
    assert Path(dl.value.path()).read_text().startswith("# Report")
    _shot(page, output_dir, "snapshot", ".jp-Notebook")
    assert page.errors == [], page.errors
