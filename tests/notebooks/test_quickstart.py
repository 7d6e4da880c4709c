"""``agentfm-nb quickstart`` end to end: executed notebook, offline HTML, printed summary."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from agentfm_nb.export import ASSETS
from agentfm_nb.widgets.scatter_grid import STATES
from tests.notebooks.conftest import (
    CLEAN_ENV,
    assert_no_errors,
    cell_text,
    saved_column,
    shown,
    widget_models,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    import os

    work = tmp_path_factory.mktemp("quickstart")
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from agentfm_nb.cli import main; sys.exit(main())",
            "quickstart",
            "-o",
            "out",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield work / "out", proc.stdout


def test_summary_is_printed(quickstart: tuple[Path, str]) -> None:
    _, stdout = quickstart
    assert "workers seen : 4 (Echo, Poet, Scribe, Analyst)" in stdout
    assert "scatter rows : 8 (8 succeeded)" in stdout
    reply = next(line for line in stdout.splitlines() if "chat reply" in line)
    assert len(reply.split(":", 1)[1].strip()) > 5, reply
    assert "out/01_quickstart.html" in stdout


def test_executed_notebook_has_every_result(quickstart: tuple[Path, str]) -> None:
    out, _ = quickstart
    nb = nbformat.read(out / "01_quickstart.ipynb", as_version=4)
    assert_no_errors(nb)
    assert "Started the embedded gateway at http://127.0.0.1:" in cell_text(nb, "%agentfm gateway")
    for name in ("Echo", "Poet", "Scribe", "Analyst"):
        assert name in cell_text(nb, "%agentfm workers -o")
    poem = cell_text(nb, "print(reply.text)")
    assert len(poem.strip().splitlines()) >= 10  # the Poet agent streams ~12 lines
    table = cell_text(nb, "results_df")
    assert table.count("success") >= 8 and "What is a peer id?" in table
    # The widgets were saved (anywidget keeps its _esm in the state) for the HTML export.
    models = widget_models(nb)
    esm = [m for m in models.values() if "_esm" in m.get("state", {})]
    assert len(esm) >= 4, list(models)


def test_offline_html_is_written_next_to_its_assets(quickstart: tuple[Path, str]) -> None:
    out, _ = quickstart
    html = (out / "01_quickstart.html").read_text()
    for name in ASSETS:
        assert (out / name).is_file()
    assert '<script src="require.js"></script>' in html
    assert "embed-amd.js" in html and "application/vnd.jupyter.widget-state+json" in html
    for cdn in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com"):
        assert cdn not in html


def test_saved_widgets_show_their_final_state(quickstart: tuple[Path, str]) -> None:
    """What GitHub, nbviewer and the HTML export show: final states, not first frames."""
    out, _ = quickstart
    nb = nbformat.read(out / "01_quickstart.ipynb", as_version=4)

    data, panel = shown(nb, "%agentfm gateway start")
    assert panel["state"]["info"]["online_workers"] == 4
    assert "4 workers online" in data["text/plain"] and "4 workers online" in data["text/html"]

    data, table = shown(nb, "%agentfm workers --live")
    assert table["state"]["summary"]["online"] == 4
    assert data["text/plain"].startswith("WorkerTable: 4 online")
    for name in ("Echo", "Poet", "Scribe", "Analyst"):
        assert name in data["text/html"]
    assert len(saved_column(table, "_snapshot", "cols", "status", "data")) == 4

    poem = cell_text(nb, "print(reply.text)").strip()
    data, chat = shown(nb, "%%agentfm chat")
    answer = chat["state"]["history"][-1]
    assert answer["status"] == "ok" and answer["content"].strip() == poem
    assert poem.splitlines()[-1] in data["text/plain"]
    assert chat["state"]["status"]["state"] == "idle"

    data, grid = shown(nb, "%%agentfm scatter")
    assert grid["state"]["progress"]["done"] == 8 and grid["state"]["progress"]["state"] == "done"
    cells = saved_column(grid, "_cells", "cols", "state", "data")
    assert [STATES[b] for b in cells] == ["done"] * 8
    assert "8/8 finished" in data["text/plain"] and "8/8 finished" in data["text/html"]
    assert {w["name"] for w in grid["state"]["workers"]} == {"Echo"}
