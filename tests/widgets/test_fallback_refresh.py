"""In a real kernel, the saved text/plain and text/html fallbacks show the final state."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.slow]


def test_saved_notebook_fallback_shows_the_final_state(gateway: Any, api_key: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from agentfm_nb.client import AgentFMClient\n"
            "from agentfm_nb.widgets import ScatterGrid\n"
            f"client = AgentFMClient({gateway.url!r}, api_key={api_key!r})\n"
            "grid = ScatterGrid([f'q{i}' for i in range(20)], client=client, model='echo')\n"
            "grid.start()\n"
            "grid"
        ),
        nbformat.v4.new_code_cell("rows = grid.result(timeout=60)\nlen(rows)"),
    ]
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    outputs = nb.cells[0].outputs
    shown = [o for o in outputs if o.get("output_type") == "display_data"]
    assert shown, outputs
    data = shown[0]["data"]
    assert "20/20 finished" in data["text/plain"]
    assert "20/20 finished" in data["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in data
    # the gateway has no auth, so the key is only in the cell source; never in outputs/state
    saved = nbformat.writes(nb)
    assert saved.count(api_key) == 1
