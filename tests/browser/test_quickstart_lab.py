"""A person's view: JupyterLab in Chromium runs the quickstart; Stop cancels a slow task."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    Lab,
    cell_output,
    open_notebook,
    run_all,
    run_cell,
    wait_kernel_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sample_until(page: Any, selector: str, done: Any, timeout: float = 90.0) -> list[str]:
    """innerText of ``selector`` every 100 ms until ``done(text)``; returns the distinct values."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = page.locator(selector).all_inner_texts()
        text = texts[0] if texts else ""
        if not seen or seen[-1] != text:
            seen.append(text)
        if done(text):
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector} never finished; last: {seen[-1:]!r}")


def test_quickstart_runs_in_jupyterlab(page: Any, lab: Lab, output_dir: Path) -> None:
    nb = json.loads((lab.root / "01_quickstart.ipynb").read_text())
    open_notebook(page, lab, "01_quickstart.ipynb", cells=len(nb["cells"]))
    run_all(page)

    # The gateway panel, then the live worker table with one row per demo worker.
    page.locator(".afm-gp").wait_for(timeout=60_000)
    page.wait_for_function(
        "document.querySelectorAll('.afm-wt .afm-wt-row').length >= 4", timeout=60_000
    )
    rows = page.locator(".afm-wt .afm-wt-row").all_inner_texts()
    for name in ("Echo", "Poet", "Scribe", "Analyst"):
        assert any(name in row for row in rows), rows

    # The Poet's answer grows line by line while the cell is still running.
    chat = ".afm-chat .afm-msg.assistant"
    page.locator(chat).wait_for(timeout=60_000)
    grew = sample_until(page, chat, lambda text: len(text.strip().splitlines()) >= 12)
    lengths = [len(t) for t in grew if t.strip()]
    assert len(lengths) >= 3 and lengths == sorted(lengths), lengths

    # The scatter grid ends with every cell done; then the DataFrame is printed.
    legend = sample_until(page, ".afm-sg .afm-sg-legend", lambda text: "done 8" in text)
    assert "failed 0" in legend[-1], legend[-1]
    assert "8/8" in page.locator(".afm-sg .afm-sg-stats").inner_text()
    last_code = len(nb["cells"]) - 2  # the results_df cell (the last cell is markdown)
    table = cell_output(page, last_code).locator("table")
    table.wait_for(timeout=60_000)
    assert table.inner_text().count("success") == 8

    for name, selector in (
        ("gateway_panel", ".afm-gp"),
        ("worker_table", ".afm-wt"),
        ("chat", ".afm-chat"),
        ("scatter_grid", ".afm-sg"),
    ):
        page.locator(selector).first.screenshot(path=output_dir / f"lab_{name}.png")
    assert page.blocked == [] or all("127.0.0.1" not in u for u in page.blocked)


STOP_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "source": "%load_ext agentfm_nb\n%agentfm gateway start --backend embedded",
        },
        {
            "cell_type": "code",
            "source": "%%agentfm chat --model Poet -o poem\nA long poem, please.",
        },
        {
            "cell_type": "code",
            "source": (
                "import time\n"
                "from agentfm_nb.client import get_default_client\n"
                "time.sleep(2.5)  # a killed agent writes nothing more\n"
                "poet = get_default_client().workers.list(agent_name='Poet')[0]\n"
                "print('poet tasks:', poet.current_tasks)\n"
                "print('poem status:', poem.status, len(poem.text.splitlines()), 'lines')"
            ),
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_stop_cancels_a_slow_task(page: Any, lab: Lab, output_dir: Path) -> None:
    for cell in STOP_NOTEBOOK["cells"]:  # type: ignore[union-attr]
        cell.update(metadata={}, outputs=[], execution_count=None)
    (lab.root / "stop.ipynb").write_text(json.dumps(STOP_NOTEBOOK))
    open_notebook(page, lab, "stop.ipynb", cells=3)
    run_cell(page, 0)
    page.locator(".afm-gp").wait_for(timeout=60_000)
    wait_kernel_idle(page, lab)
    run_cell(page, 1)

    body = ".afm-chat .afm-msg.assistant .afm-md"
    sample_until(page, body, lambda text: len(text.strip().splitlines()) >= 2, timeout=30)
    page.locator(".afm-chat button", has_text="Stop").click()
    meta = page.locator(".afm-chat .afm-msg.assistant .afm-meta")
    meta.filter(has_text="cancelled").wait_for(timeout=10_000)
    before = page.locator(body).inner_text().strip().splitlines()
    page.wait_for_timeout(1500)  # the Poet writes a line every ~0.15 s when it is alive
    after = page.locator(body).inner_text().strip().splitlines()
    assert after == before
    assert 2 <= len(after) < 12, after  # the Poet writes 12 lines when not stopped
    page.locator(".afm-chat").screenshot(path=output_dir / "lab_chat_stopped.png")

    wait_kernel_idle(page, lab)
    run_cell(page, 2)
    out = cell_output(page, 2)
    out.filter(has_text="poem status").wait_for(timeout=30_000)
    text = out.inner_text()
    assert "poet tasks: 0" in text, text  # the gateway freed the slot: the agent was stopped
    assert "poem status: cancelled" in text or "poem status: stopped" in text, text
