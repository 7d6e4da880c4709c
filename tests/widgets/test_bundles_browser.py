"""Each bundle loads in headless Chromium and renders the payloads its Python class produces
(a kernel-less page with a small fake model; the full JupyterLab run is in tests/browser)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _widget_harness import deliver, harness_page, mount

from agentfm_nb.widgets._columnar import ColumnDiffer
from agentfm_nb.widgets.worker_table import worker_columns

pytestmark = [pytest.mark.browser]


class _W:
    def __init__(self, i: int) -> None:
        self.peer_id = f"12D3KooW{i:044d}"
        self.name, self.author, self.engine = f"Agent {i}", "alice", "llama3.2"
        self.status, self.online = "AVAILABLE" if i % 3 else "BUSY", True
        self.hardware = "llama3.2 (CPU: 8 Cores)"
        self.current_tasks, self.max_tasks = i % 3, 2
        self.cpu_usage_pct, self.ram_free_gb = 12.5, 7.0
        self.has_gpu, self.gpu_used_gb, self.gpu_total_gb, self.gpu_usage_pct = False, 0.0, 0.0, 0.0
        self.honesty_score, self.last_seen = 0.5, "2026-07-09T15:50:00Z"


def test_every_bundle_renders(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("chromium is not installed")
    differ = ColumnDiffer()
    cols, strings = worker_columns([_W(i) for i in range(500)], {})
    with harness_page() as page:
        mount(
            page,
            "wt",
            "worker_table",
            {"summary": {"online": 500, "state": "live"}, "selected": []},
        )
        content, buffers = differ.diff(cols, strings)  # type: ignore[misc]
        deliver(page, "wt", content, buffers)
        page.wait_for_function("document.querySelectorAll('#wt .afm-wt-row').length > 5")
        first = page.inner_text("#wt .afm-wt-row")
        assert "Agent 0" in first or "Agent" in first
        page.fill("#wt input[type=search]", "agent 499")
        page.wait_for_function(
            "[...document.querySelectorAll('#wt .afm-wt-row')].filter(r => !r.hidden).length === 1"
        )
        page.click("#wt .afm-wt-row")
        assert page.evaluate("window.models.wt.get('selected')") == [_W(499).peer_id]

        states = np.array([3, 3, 4, 1, 0], dtype="<u1")
        grid = ColumnDiffer()
        snap, _ = grid.snapshot(
            {"state": states, "worker": np.zeros(5, "<u2"), "attempt": np.zeros(5, "<u1")},
            {},
            inline=True,
        )
        mount(
            page,
            "sg",
            "scatter_grid",
            {
                "_cells": snap,
                "progress": {
                    "total": 5,
                    "done": 2,
                    "failed": 1,
                    "state": "running",
                    "elapsed": 1.0,
                },
                "workers": [],
            },
        )
        page.wait_for_function("document.querySelector('#sg canvas').dataset.cells === '5'")
        assert "3/5" in page.inner_text("#sg .afm-sg-stats")

        history = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "status": "streaming"},
        ]
        mount(page, "chat", "chat", {"history": history, "status": {"state": "streaming"}})
        deliver(
            page,
            "chat",
            {
                "kind": "chunk",
                "turn": 1,
                "text": "# Title\n<img src=x onerror=alert(1)><script>window.pwned=1</script>\n",
            },
            [],
        )
        page.wait_for_function("document.querySelector('#chat h1') !== null")
        assert page.evaluate("window.pwned") is None
        assert "onerror" not in page.inner_html("#chat .afm-md")

        mount(
            page,
            "gp",
            "gateway_panel",
            {
                "info": {
                    "backend": "embedded",
                    "url": "http://127.0.0.1:1",
                    "pid": 42,
                    "running": True,
                    "uptime_s": 3,
                },
                "log_tail": "ready",
            },
        )
        assert "embedded" in page.inner_text("#gp")
        page.screenshot(path=str(tmp_path / "bundles.png"), full_page=True)
        assert page.evaluate("window.errors") == []
