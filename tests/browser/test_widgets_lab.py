"""Every existing widget in a real JupyterLab 4 (one server, one browser, one notebook run):
keys stay in the chat, layout at 960 and 640 px, no DOM churn, selection and focus survive
updates, host typography, misleading states, ScatterGrid at scale, light and dark contrast,
Stop keeps the panel's last URL, and a closed kernel leaves a read-only snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser._widget_checks import (
    align,
    churn,
    contrast,
    set_output_width,
    write_notebook,
)
from tests.browser.conftest import Lab, open_notebook, run_all, wait_kernel_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MARKDOWN = [
    "> quoted words",
    "",
    "[a link](https://example.org/x)",
    "",
    "| a | b |",
    "|---|---|",
    "| 1 | 2 |",
]


@pytest.fixture(scope="module")
def lab_page(browser: Any, lab: Lab, output_dir: Path) -> Any:
    """The widgets notebook open and run in JupyterLab (shared by the tests of this module)."""
    from tests.browser.conftest import block_remote

    name = write_notebook(lab.root)
    context = browser.new_context(viewport={"width": 1600, "height": 1400})
    page = context.new_page()
    page.blocked = []
    block_remote(page, page.blocked)
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    open_notebook(page, lab, name, cells=6)
    run_all(page)
    page.locator(".afm-chat .afm-art").first.wait_for(timeout=120_000)
    page.wait_for_function(
        "document.querySelectorAll('.afm-wt .afm-wt-row:not([hidden])').length >= 16",
        timeout=60_000,
    )
    wait_kernel_idle(page, lab)
    try:
        yield page
    finally:
        context.close()


def _shot(page: Any, output_dir: Path, name: str, sel: str = ".jp-Notebook") -> None:
    page.locator(sel).first.screenshot(path=output_dir / f"lab_{name}.png")


def test_chat_keys_markdown_errors_and_files(lab_page: Any, output_dir: Path) -> None:
    page = lab_page
    chat = page.locator(".afm-chat").first
    box = chat.locator("textarea")
    prompt = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-InputPrompt")
    before = prompt.inner_text()
    cells = page.locator(".jp-Notebook .jp-Cell").count()
    box.click()
    # Shift+Enter is a new line in the box; it must not run the notebook cell
    page.keyboard.type(MARKDOWN[0])
    for line in MARKDOWN[1:]:
        page.keyboard.press("Shift+Enter")
        page.keyboard.type(line)
    page.wait_for_timeout(800)
    assert box.input_value() == "\n".join(MARKDOWN)
    assert prompt.inner_text() == before, "Shift+Enter re-ran the cell"
    assert page.locator(".jp-Notebook .jp-Cell").count() == cells
    assert chat.locator(".afm-msg").count() == 0
    page.keyboard.press("Enter")  # Enter sends
    answer = chat.locator(".afm-msg.assistant .afm-md")
    answer.locator("table").wait_for(timeout=30_000)
    assert box.input_value() == ""
    assert prompt.inner_text() == before
    # the host's typography: a visible link, a quote bar, table borders
    styles = answer.evaluate(
        """(md) => {
          const cs = (s) => getComputedStyle(md.querySelector(s));
          return { quote: parseFloat(cs('blockquote').borderLeftWidth),
                   cell: parseFloat(cs('td').borderTopWidth),
                   link: cs('a').color, text: getComputedStyle(md).color,
                   underline: cs('a').textDecorationLine };
        }"""
    )
    assert styles["quote"] >= 2 and styles["cell"] >= 1, styles
    assert styles["link"] != styles["text"] or "underline" in styles["underline"], styles

    # an agent that fails: an error bubble and an error status, not a normal reply
    broken = page.locator(".afm-chat").nth(1)
    assert "error" in (broken.locator(".afm-msg.assistant").get_attribute("class") or "")
    assert broken.locator(".afm-msg.assistant .afm-banner.err").is_visible()
    assert broken.locator(".afm-state").inner_text() == "error"
    # files the agent wrote: one card, with a text preview
    card = page.locator(".afm-chat").nth(2).locator(".afm-art")
    assert card.count() == 1 and "report.md" in card.inner_text()
    assert "all good" in card.locator("pre").inner_text()
    _shot(page, output_dir, "chat_states", ".jp-Notebook")


def test_worker_table_layout_churn_selection_and_focus(lab_page: Any, output_dir: Path) -> None:
    page = lab_page
    table = page.locator(".afm-wt")
    summary = table.locator(".afm-bar").first.inner_text()
    assert "15 online" in summary and "1 offline" in summary, summary
    sleeper = table.locator(".afm-wt-row", has_text="Sleeper")
    assert "OFFLINE" in sleeper.inner_text()
    # an empty filter says so (not "No workers yet.")
    search = table.locator("input[type=search]")
    search.fill("nobody-is-called-this")
    table.locator(".afm-wt-empty", has_text="No workers match the filter.").wait_for()
    search.fill("")

    for width, must_show in ((960, 11), (640, 5)):
        set_output_width(page, width)
        lay = align(page)
        assert lay["misaligned"] == [], lay
        assert lay["overflow"] <= 1, lay  # nothing cut, nothing to scroll sideways
        assert len(lay["shown"]) >= must_show, lay
        for key in ("name", "status", "load"):
            assert key in lay["shown"], lay
        if width == 960:
            assert "peer_id" in lay["shown"], lay
        else:
            assert len(lay["shown"]) < 11, lay
        # and no widget is wider than the output area
        wide = page.evaluate(
            "[...document.querySelectorAll('.afm')]"
            ".filter((w) => w.scrollWidth > w.clientWidth + 1)"
            ".map((w) => w.className)"
        )
        assert wide == [], (width, wide)
        _shot(page, output_dir, f"worker_table_{width}", ".afm-wt")

    # sort headers are buttons with aria-sort
    name_head = table.locator(".afm-wt-head [role=columnheader].c-name")
    assert name_head.get_attribute("aria-sort") == "ascending"
    name_head.locator("button").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector('.afm-wt .c-name[role=columnheader]').getAttribute('aria-sort')"
        " === 'descending'"
    )
    # rows are keyboard navigable: focus one, arrow down, space selects
    first = table.locator(".afm-wt-row:not([hidden])").first
    first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press(" ")
    page.wait_for_function(
        "document.querySelectorAll('.afm-wt .afm-wt-row[aria-selected=true]').length === 1"
    )
    focused = page.evaluate("document.activeElement.dataset.peer")
    assert focused
    # an idle live table (refreshing every 0.5 s) and the ticking panel add no DOM nodes, and
    # a text selection in the panel and the row's keyboard focus survive their updates
    page.evaluate(
        """() => { const dd = document.querySelector('.afm-gp dd[data-field=url]');
        const r = document.createRange(); r.selectNodeContents(dd);
        const s = getSelection(); s.removeAllRanges(); s.addRange(r); }"""
    )
    url = page.evaluate("getSelection().toString()")
    assert url.startswith("http://127.0.0.1:")
    page.evaluate(f"document.querySelector('.afm-wt-row[data-peer=\"{focused}\"]').focus()")
    assert churn(page, ".afm-wt, .afm-gp", 3000) == 0
    assert page.evaluate("getSelection().toString()") == url
    assert page.evaluate("document.activeElement.dataset.peer") == focused


def test_scatter_grid_at_scale(lab_page: Any, output_dir: Path) -> None:
    page = lab_page
    grid = page.locator(".afm-sg")
    stats = grid.locator(".afm-sg-stats").inner_text()
    assert "60/60" in stats and "ETA" not in stats, stats
    grid.locator("select").select_option("worker")
    legend = grid.locator(".afm-sg-legend > span:not([hidden])")
    page.wait_for_timeout(300)
    labels = legend.all_inner_texts()
    assert len(labels) <= 10 and any(label.startswith("other (") for label in labels), labels
    canvas = grid.locator("canvas")
    canvas.hover(position={"x": 5, "y": 5})
    assert (canvas.get_attribute("title") or "").startswith("#0 · done · Crowd-")
    canvas.click(position={"x": 5, "y": 5})
    detail = grid.locator(".afm-sg-detail")
    detail.filter(has_text="Result:").wait_for(timeout=10_000)
    assert "Crowd-" in detail.inner_text() and "prompt 0" in detail.inner_text()
    canvas.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    detail.filter(has_text="#1 · done").wait_for(timeout=10_000)
    assert "prompt 1" in detail.inner_text()
    assert canvas.get_attribute("aria-label")
    _shot(page, output_dir, "scatter_grid_by_worker", ".afm-sg")


def test_contrast_light_and_dark(lab_page: Any, output_dir: Path) -> None:
    page = lab_page
    set_output_width(page, 960)
    light = contrast(page)
    assert light["checked"] > 100 and light["bad"] == [], light
    _shot(page, output_dir, "widgets_light")
    page.locator('.lm-MenuBar-item:has-text("Settings")').first.click()
    page.locator('.lm-Menu-item:has-text("Theme")').first.hover()
    page.locator('.lm-Menu-item:has-text("JupyterLab Dark")').first.click()
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    page.wait_for_timeout(1000)
    dark = contrast(page)
    assert dark["checked"] > 100 and dark["bad"] == [], dark
    _shot(page, output_dir, "widgets_dark")
    page.locator('.lm-MenuBar-item:has-text("Settings")').first.click()
    page.locator('.lm-Menu-item:has-text("Theme")').first.hover()
    page.locator('.lm-Menu-item:has-text("JupyterLab Light")').first.click()
    page.wait_for_function("document.body.dataset.jpThemeLight === 'true'", timeout=20_000)


def test_host_css_does_not_leak_into_the_panel(lab_page: Any) -> None:
    # a page stylesheet that floats definition terms (as some hosts' markdown CSS does)
    rows = lab_page.evaluate(
        """() => { const s = document.createElement('style'); s.id = 'afm-hostile';
        s.textContent = 'dt { float: left; width: 40%; font-weight: bold; }'
          + ' dd { margin-left: 45%; }';
        document.head.append(s);
        const out = [...document.querySelectorAll('.afm-gp dt')].map((dt) => {
          const dd = dt.nextElementSibling; const a = dt.getBoundingClientRect();
          const b = dd.getBoundingClientRect();
          const row = Math.abs(a.top - b.top) < 2;
          return [getComputedStyle(dt).cssFloat, row, b.left >= a.right]; });
        s.remove(); return out; }"""
    )
    assert len(rows) == 5 and all(r == ["none", True, True] for r in rows), rows


def test_stop_then_closed_kernel_is_a_snapshot(lab_page: Any, lab: Lab, output_dir: Path) -> None:
    page = lab_page
    panel = page.locator(".afm-gp")
    url = panel.locator("dd[data-field=url]").inner_text()
    panel.locator("button", has_text="Stop gateway").click()
    panel.filter(has_text="stopped").wait_for(timeout=30_000)
    # after stop the panel keeps the last URL and uptime
    assert panel.locator("dd[data-field=url]").inner_text() == url
    assert panel.locator("dd[data-field=uptime]").inner_text() not in ("–", "0.00s")
    # the table cannot reach the gateway: rows become unknown, the count says "when last seen"
    table = page.locator(".afm-wt")
    table.locator(".afm-bar", has_text="online when last seen").wait_for(timeout=30_000)
    page.wait_for_function(
        "[...document.querySelectorAll('.afm-wt .afm-wt-row:not([hidden]) .afm-badge')]"
        ".every((b) => ['UNKNOWN', 'OFFLINE'].includes(b.textContent))"
    )
    _shot(page, output_dir, "stopped_gateway")
    # shut the kernel down as the page would (the server wants its XSRF cookie on a DELETE)
    for kernel in lab.kernels():
        status = page.evaluate(
            """async (id) => { const x = document.cookie.match(/_xsrf=([^;]+)/);
            const r = await fetch(`/api/kernels/${id}`, { method: 'DELETE',
              headers: x ? { 'X-XSRFToken': decodeURIComponent(x[1]) } : {} });
            return r.status; }""",
            kernel["id"],
        )
        assert status == 204, status
    assert lab.kernels() == []
    chat = page.locator(".afm-chat").first
    # no answer for 20 s after the last one (a closed kernel never answers again)
    chat.locator(".afm-banner.snap", has_text="Snapshot of").wait_for(timeout=45_000)
    assert chat.locator("button", has_text="Send").is_disabled()
    assert chat.locator("textarea").is_disabled()
    grid = page.locator(".afm-sg")
    grid.locator(".afm-banner.snap").wait_for(timeout=45_000)
    assert grid.locator("button", has_text="Retry failed").is_disabled()
    assert grid.locator("button", has_text="Stop").is_disabled()
    # reading still works from the saved state: a cell's detail
    grid.locator("canvas").click(position={"x": 18, "y": 5})
    grid.locator(".afm-sg-detail", has_text="prompt 1").wait_for(timeout=5_000)
    _shot(page, output_dir, "snapshot_closed_kernel")
    assert page.errors == [], page.errors
