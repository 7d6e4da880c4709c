"""The quickstart in Notebook 7 (not only JupyterLab): the widgets render and go live there too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Lab, cell_output, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_quickstart_runs_in_notebook7(page: Any, notebook7: Lab, output_dir: Path) -> None:
    nb = json.loads((notebook7.root / "01_quickstart.ipynb").read_text())
    open_notebook(page, notebook7, "01_quickstart.ipynb", cells=len(nb["cells"]))
    # The Notebook 7 shell, not JupyterLab's: no status bar, a single-document page.
    assert page.locator(".jp-StatusBar-Widget").count() == 0
    assert "/notebooks/" in page.url
    run_all(page)

    page.wait_for_function(
        "document.querySelectorAll('.afm-wt .afm-wt-row').length >= 4", timeout=60_000
    )
    rows = page.locator(".afm-wt .afm-wt-row").all_inner_texts()
    for name in ("Echo", "Poet", "Scribe", "Analyst"):
        assert any(name in row for row in rows), rows

    # The Poet writes 12 lines; the chat widget shows all of them.
    page.wait_for_function(
        "(document.querySelector('.afm-chat .afm-msg.assistant')?.innerText ?? '')"
        ".trim().split('\\n').length >= 12",
        timeout=60_000,
    )

    legend = page.locator(".afm-sg .afm-sg-legend")
    legend.filter(has_text="done 8").wait_for(timeout=60_000)
    assert "failed 0" in legend.inner_text()
    last_code = len(nb["cells"]) - 2  # the results_df cell (the last cell is markdown)
    table = cell_output(page, last_code).locator("table")
    table.wait_for(timeout=60_000)
    assert table.inner_text().count("success") == 8

    page.screenshot(path=output_dir / "notebook7_quickstart.png", full_page=True)
    for name, selector in (
        ("worker_table", ".afm-wt"),
        ("chat", ".afm-chat"),
        ("scatter_grid", ".afm-sg"),
    ):
        page.locator(selector).first.screenshot(path=output_dir / f"notebook7_{name}.png")
    assert all("127.0.0.1" not in url for url in page.blocked)
