"""Work that ends after its own cell still reaches the saved notebook (nbclient), final state.

nbclient keeps only messages of the cell that is running; the widgets publish their final
state again from the next cell, so nothing here blocks with --wait or .result().
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from agentfm_nb.export.execute import execute_notebook
from agentfm_nb.widgets.scatter_grid import STATES
from tests.notebooks.conftest import CLEAN_ENV, assert_no_errors, cell_text, saved_column, shown

pytestmark = pytest.mark.slow

CELLS = [
    "%load_ext agentfm_nb\n%agentfm gateway start --backend embedded",
    # No --wait: the Poet streams for ~2 s after this cell has returned.
    "%%agentfm chat --model poet -o reply\nA poem about background work, please.",
    "from agentfm_nb import ScatterGrid\n"
    "grid = ScatterGrid([f'row {i}' for i in range(6)], model='Analyst').start()\n"
    "grid",
    # Only waits; neither widget is touched, so nothing but the cell hook re-publishes them.
    "import time\n"
    "deadline = time.monotonic() + 60\n"
    "while ('reply' not in globals() or grid.progress['state'] != 'done')"
    " and time.monotonic() < deadline:\n"
    "    time.sleep(0.05)",
    "print(reply.text)",
    "%agentfm gateway stop",
]


def test_background_work_is_saved_in_its_final_state(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    result = execute_notebook(nb, cwd=tmp_path, timeout=120, env=dict(CLEAN_ENV))
    nb = result.notebook
    assert_no_errors(nb)

    poem = cell_text(nb, "print(reply.text)").strip()
    assert len(poem.splitlines()) >= 10
    data, chat = shown(nb, "%%agentfm chat")
    answer = chat["state"]["history"][-1]
    assert answer["status"] == "ok" and answer["content"].strip() == poem
    assert "streaming" not in data["text/plain"].splitlines()[0]
    assert poem.splitlines()[-1] in data["text/plain"]
    assert poem.splitlines()[-1] in data["text/html"]

    data, grid = shown(nb, "from agentfm_nb import ScatterGrid")
    progress = grid["state"]["progress"]
    assert progress["state"] == "done" and progress["done"] == 6, progress
    assert [STATES[b] for b in saved_column(grid, "_cells", "cols", "state", "data")] == [
        "done"
    ] * 6
    assert "6/6 finished" in data["text/plain"] and "6/6 finished" in data["text/html"]
    # model="Analyst" is an agent name: routed like the gateway (name tier), not by engine.
    assert [w["name"] for w in grid["state"]["workers"]] == ["Analyst"]

    # The panel of the first cell ends stopped, in its state and in its fallback.
    data, panel = shown(nb, "%load_ext agentfm_nb")
    assert panel["state"]["info"]["running"] is False
    assert re.search(r"\(stopped(, ran \d+s)?\)$", data["text/plain"]), data["text/plain"]
    assert "Stopped the gateway at http://127.0.0.1:" in cell_text(nb, "%agentfm gateway stop")
