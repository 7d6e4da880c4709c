"""The existing widgets in Notebook 7 (its own shell, not JupyterLab's): keys stay in the chat,
Enter sends, the table fits 960 px with header and rows aligned, and text contrast holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser._widget_checks import align, churn, contrast, set_output_width, write_notebook
from tests.browser.conftest import Lab, open_notebook, run_all, wait_kernel_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_widgets_in_notebook7(page: Any, notebook7: Lab, output_dir: Path) -> None:
    name = write_notebook(notebook7.root)
    page.set_viewport_size({"width": 1400, "height": 1400})
    open_notebook(page, notebook7, name, cells=6)
    run_all(page)
    page.locator(".afm-chat .afm-art").first.wait_for(timeout=120_000)
    wait_kernel_idle(page, notebook7)

    chat = page.locator(".afm-chat").first
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-InputPrompt")
    before = prompt.inner_text()
    chat.locator("textarea").click()
    page.keyboard.type("first")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second")
    page.wait_for_timeout(500)
    assert chat.locator("textarea").input_value() == "first\nsecond"
    assert prompt.inner_text() == before, "Shift+Enter re-ran the cell"
    page.keyboard.press("Enter")
    chat.locator(".afm-msg.assistant .afm-md", has_text="second").wait_for(timeout=30_000)
    assert prompt.inner_text() == before

    set_output_width(page, 960)
    lay = align(page)
    assert lay["misaligned"] == [] and lay["overflow"] <= 1 and len(lay["shown"]) == 11, lay
    assert churn(page, ".afm-wt, .afm-gp", 2000) == 0
    result = contrast(page)
    assert result["checked"] > 100 and result["bad"] == [], result
    page.screenshot(path=output_dir / "notebook7_widgets.png", full_page=True)
