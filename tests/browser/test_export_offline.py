"""The exported HTML of the executed quickstart renders its widgets with the network blocked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from agentfm_nb.export import export_html
from agentfm_nb.export.execute import execute_notebook
from tests.browser.conftest import REPO, block_remote

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("export")
    clean = {"AGENTFM_API_KEY": None, "AGENTFM_API_KEYS": None, "AGENTFM_GATEWAY_URL": None}
    result = execute_notebook(
        REPO / "notebooks" / "01_quickstart.ipynb", cwd=work, timeout=120, env=clean
    )
    path = work / "01_quickstart.ipynb"
    nbformat.write(result.notebook, path)
    return path


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.mark.parametrize("assets", ["copy", "inline"])
def test_exported_widgets_render_offline(
    page: Any, executed: Path, tmp_path: Path, output_dir: Path, assets: str
) -> None:
    html = export_html(executed, tmp_path / "site" / "quickstart.html", assets=assets)  # type: ignore[arg-type]
    blocked: list[str] = []
    block_remote(page, blocked)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(html.as_uri())

    page.wait_for_function(
        "document.querySelectorAll('.afm-wt .afm-wt-row').length >= 4", timeout=30_000
    )
    rows = page.locator(".afm-wt .afm-wt-row").all_inner_texts()
    assert any("Poet" in row for row in rows), rows
    poem = page.locator(".afm-chat .afm-msg.assistant").inner_text()
    assert len(poem.strip().splitlines()) >= 10, poem
    assert "done 8" in page.locator(".afm-sg .afm-sg-legend").inner_text()
    assert page.locator(".afm-gp").count() == 1
    # the panel's first state was sent from its cell, so the export has the count, not "–"
    panel = page.locator(".afm-gp").inner_text()
    assert re.search(r"online workers\s+4\b", panel), panel
    # A saved page must not look live: every widget says it is a snapshot, controls that need
    # a kernel are disabled, relative times are frozen, and reading clicks still work.
    page.wait_for_function(
        "[...document.querySelectorAll('.afm-wt, .afm-chat, .afm-sg, .afm-gp')].every("
        "(w) => w.querySelector('.afm-banner.snap:not([hidden])'))",
        timeout=15_000,
    )
    assert "Snapshot of" in page.locator(".afm-chat .afm-banner.snap").inner_text()
    assert page.locator(".afm-chat button", has_text="Send").is_disabled()
    assert page.locator(".afm-chat textarea").is_disabled()
    assert page.locator(".afm-sg button", has_text="Stop").is_disabled()
    assert page.locator(".afm-sg button", has_text="Retry failed").is_disabled()
    assert page.locator(".afm-gp button", has_text="Stop gateway").is_disabled()
    assert page.locator(".afm-gp .afm-dot.on").count() == 0
    assert "running when saved" in page.locator(".afm-gp").inner_text()
    assert "snapshot" in page.locator(".afm-wt .afm-bar").first.inner_text()
    seen = page.locator(".afm-wt .afm-wt-row .c-last_seen").all_inner_texts()
    uptime = page.locator(".afm-gp dd[data-field=uptime]").inner_text()
    page.wait_for_timeout(2200)
    assert page.locator(".afm-wt .afm-wt-row .c-last_seen").all_inner_texts() == seen
    assert page.locator(".afm-gp dd[data-field=uptime]").inner_text() == uptime
    page.locator(".afm-sg canvas").click(position={"x": 5, "y": 5})
    detail = page.locator(".afm-sg .afm-sg-detail")
    detail.filter(has_text="Prompt:").wait_for(timeout=5_000)
    assert "#0 · done" in detail.inner_text() and "Result:" in detail.inner_text()
    assert blocked == [], blocked  # nothing needed the network (no CDN fallback was tried)
    assert errors == [], errors
    page.screenshot(path=output_dir / f"export_{assets}.png", full_page=True)
