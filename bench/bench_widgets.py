"""Widget payloads and render work, in headless Chromium.

Kernel-less harness: each widget's ESM bundle is rendered in a page with a small fake anywidget
model (tests/widgets/_widget_harness.py) and fed exactly the payloads the Python classes produce;
the ScatterGrid and chat payloads come from real runs against an embedded gateway. The peer
("naive") is sending the whole state as JSON on every change.

    python bench/bench_widgets.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests" / "widgets")]

from _table import Row, print_table  # noqa: E402
from _widget_harness import b64_buffers, harness_page, mount  # noqa: E402
from _widget_helpers import CommRecorder  # noqa: E402

from agentfm_nb.widgets._columnar import ColumnDiffer, payload_bytes  # noqa: E402
from agentfm_nb.widgets.worker_table import worker_columns  # noqa: E402


class FakeWorker:
    """The fields WorkerTable reads, as /api/workers would give them."""

    def __init__(self, i: int, rng: np.random.Generator) -> None:
        self.peer_id = f"12D3KooW{i:044d}"
        self.name, self.author, self.engine = f"Agent {i}", f"author{i % 97}", "llama3.2"
        self.hardware, self.description = "llama3.2 (CPU: 8 Cores)", "bench worker"
        self.status, self.online = "AVAILABLE", True
        self.current_tasks, self.max_tasks = 0, 4
        self.cpu_usage_pct, self.ram_free_gb = float(rng.random() * 100), 12.0
        self.has_gpu, self.gpu_used_gb, self.gpu_total_gb, self.gpu_usage_pct = False, 0.0, 0.0, 0.0
        self.honesty_score, self.last_seen = 0.5, "2026-07-09T15:50:00Z"

    def wire(self) -> dict[str, Any]:
        return dict(vars(self))


TIMED_DELIVER = """async ([id, content, bufs]) => {
  const t0 = performance.now();
  window.deliver(id, content, bufs);
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now() - t0;
}"""


# Nodes added per second under `sel` while nothing changes (the view's own ticker still runs).
IDLE_NODES = """async ([sel, ms]) => {
  let added = 0;
  const obs = new MutationObserver((rs) => { for (const r of rs) added += r.addedNodes.length; });
  obs.observe(document.querySelector(sel), { childList: true, subtree: true });
  await new Promise((r) => setTimeout(r, ms));
  obs.disconnect();
  return added / (ms / 1000);
}"""


def bench_worker_table(page: Any, n: int, ticks: int) -> list[Row]:
    rng = np.random.default_rng(0)
    workers = [FakeWorker(i, rng) for i in range(n)]
    slots: dict[str, int] = {}
    differ = ColumnDiffer()
    mount(page, "wt", "worker_table", {"summary": {"online": n, "state": "live"}, "selected": []})
    content, buffers = differ.diff(*worker_columns(workers, slots))  # type: ignore[misc]
    first_bytes = payload_bytes(content, buffers)
    first_paint = page.evaluate(TIMED_DELIVER, ["wt", content, b64_buffers(buffers)])
    naive_bytes = len(json.dumps([w.wire() for w in workers]))
    tick_bytes, tick_ms = [], []
    for _ in range(ticks):
        # a telemetry tick: 2% of workers change load and CPU
        for i in rng.choice(n, max(1, n // 50), replace=False):
            w = workers[i]
            w.current_tasks = int(rng.integers(0, 5))
            w.cpu_usage_pct = float(rng.random() * 100)
        payload = differ.diff(*worker_columns(workers, slots))
        assert payload is not None
        tick_bytes.append(payload_bytes(*payload))
        tick_ms.append(page.evaluate(TIMED_DELIVER, ["wt", payload[0], b64_buffers(payload[1])]))
    shown = page.evaluate("document.querySelectorAll('#wt .afm-wt-row').length")
    idle_nodes = page.evaluate(IDLE_NODES, ["#wt", 5000])
    return [
        Row(f"WorkerTable {n:,}: first payload", first_bytes, naive_bytes, "bytes", False),
        Row(
            "WorkerTable: bytes per refresh (2% changed)",
            statistics.mean(tick_bytes),
            naive_bytes,
            "bytes",
            False,
        ),
        Row(
            "WorkerTable: first paint",
            first_paint,
            None,
            "ms",
            False,
            f"{shown} DOM rows (virtualized)",
        ),
        Row("WorkerTable: per-update decode+paint", statistics.median(tick_ms), None, "ms", False),
        Row(
            "WorkerTable: DOM nodes created/s while idle",
            idle_nodes,
            None,
            "nodes/s",
            False,
            "live, 1 s ticker, 5 s window (target 0)",
        ),
    ]


def bench_scatter(page: Any, gw_url: str, n: int) -> list[Row]:
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.widgets import ScatterGrid

    grid = ScatterGrid(
        [f"p{i}" for i in range(n)], client=AgentFMClient(gw_url), model="echo", max_concurrency=64
    )
    rec = CommRecorder(grid)
    grid.start()
    grid.result(timeout=600)
    elapsed = grid.progress["elapsed"]
    msgs = rec.custom("diff")
    states = ["queued", "running", "retrying", "done", "failed", "cancelled"]
    full_state = json.dumps(
        [
            {"state": states[int(s)], "worker": int(w)}
            for s, w in zip(grid._state, grid._worker, strict=True)
        ]
    )
    naive_total = len(full_state) * grid.stats["events"]
    mount(page, "sg", "scatter_grid", {"_cells": {}, "progress": {}, "workers": grid.workers})
    apply_ms = [page.evaluate(TIMED_DELIVER, ["sg", c, b64_buffers(b)]) for c, b in msgs]
    return [
        Row(
            f"ScatterGrid {n:,}: messages/s to browser",
            len(msgs) / elapsed,
            grid.stats["events"] / elapsed,
            "msg/s",
            False,
            f"{grid.stats['events']:,} state changes in {elapsed:.1f}s",
        ),
        Row("ScatterGrid: total bytes", grid.stats["bytes"], naive_total, "bytes", False),
        Row("ScatterGrid: per-update apply+paint", statistics.median(apply_ms), None, "ms", False),
    ]


FAST_AGENT = """import sys, time
n = int(sys.argv[1]); t0 = time.monotonic()
for i in range(n):
    print(f"line {i}: the quick brown fox jumps over the lazy dog `code` **bold**", flush=True)
    delay = t0 + (i + 1) / 2000 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""


def bench_chat(page: Any, lines: int) -> list[Row]:
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.gateway import LocalMeshGateway
    from agentfm_nb.widgets import ChatWidget

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "fast.py"
        script.write_text(FAST_AGENT)
        cfg = Path(tmp) / "mesh.toml"
        cfg.write_text(
            '[[workers]]\nname = "Fast"\nengine = "fast"\nauthor = "bench"\n'
            'description = "2000 lines/s"\n'
            f'kind = "command"\nargv = ["{sys.executable}", "-u", "{script}", "{lines}"]\n'
        )
        with LocalMeshGateway(
            port=0, backend="embedded", config=cfg, artifacts_dir=Path(tmp) / "a"
        ) as gw:
            client = AgentFMClient(gw.url)
            chat = ChatWidget(client, model="fast")
            rec = CommRecorder(chat)
            t0 = time.monotonic()
            final = chat.send("go").result(timeout=120)
            stream_s = time.monotonic() - t0
    expected = "".join(
        f"line {i}: the quick brown fox jumps over the lazy dog `code` **bold**\n"
        for i in range(lines)
    )
    chunks = rec.custom("chunk")
    mount(
        page,
        "chat",
        "chat",
        {
            "history": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": "", "status": "streaming"},
            ],
            "status": {"state": "streaming"},
        },
    )
    # replay at the recorded pace (20 batches/s): the page must keep up with the stream
    lag = []
    for c, _ in chunks:
        t = time.monotonic()
        c = {**c, "turn": 1}
        lag.append(page.evaluate(TIMED_DELIVER, ["chat", c, []]))
        time.sleep(max(0.0, 0.05 - (time.monotonic() - t)))
    page.wait_for_timeout(250)
    shown = page.evaluate("document.querySelector('#chat .afm-md').afmRaw")
    # the gateway ends a stream with a newline before its sentinel, as the real one does
    ok = final["content"].rstrip("\n") == expected.rstrip("\n") and shown == final["content"]
    return [
        Row(
            f"Chat {lines:,} lines at 2,000/s: stream time",
            stream_s,
            lines / 2000,
            "s",
            False,
            f"{len(chunks)} messages; final == raw stream: {ok}",
        ),
        Row(
            "Chat: per-batch apply+render (median)",
            statistics.median(lag),
            50.0,
            "ms",
            False,
            "peer = batch interval",
        ),
        Row("Chat: per-batch apply+render (p95)", float(np.percentile(lag, 95)), 50.0, "ms", False),
    ]


# One frame's main-thread work: the updates' own script time, then the rAF callbacks and
# rendering of the next frame (a rAF registered before the updates marks the frame start).
TIMED_TOGETHER = """async ([wtContent, wtBufs, series, sample]) => {
  let start = 0;
  requestAnimationFrame(() => { start = performance.now(); });
  const t0 = performance.now();
  if (wtContent) {  // null: an empty frame, the measurement's floor on this machine
    window.deliver("wt2", wtContent, wtBufs);
    window.setState("ins", "series", series);
    window.deliver("db", { kind: "sample", sample }, []);
  }
  const script = performance.now() - t0;
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  return script + (performance.now() - start);
}"""


def bench_views_together(page: Any, n: int, ticks: int) -> list[Row]:
    """WorkerTable, WorkerInspector and MeshDashboard updating in the same frame (1 Hz tick)."""
    from agentfm_nb.widgets.inspector import _worker_fields

    rng = np.random.default_rng(1)
    workers = [FakeWorker(i, rng) for i in range(n)]
    slots: dict[str, int] = {}
    differ = ColumnDiffer()
    mount(page, "wt2", "worker_table", {"summary": {"online": n, "state": "live"}, "selected": []})
    first = differ.diff(*worker_columns(workers, slots))
    assert first is not None
    page.evaluate(TIMED_DELIVER, ["wt2", first[0], b64_buffers(first[1])])
    now = time.time()
    # full windows: 5 minutes of telemetry at 1 Hz, 15 minutes of dashboard samples at 2 s
    t = [now - 300 + i for i in range(300)]
    series: dict[str, Any] = {"t": t, "max_tasks": 4, "window_s": 300.0}
    for key in ("cpu", "ram", "gpu", "queue"):
        series[key] = [float(x) for x in rng.random(300) * 100]
    w0 = workers[0]
    w0.is_equivocator, w0.dispatch_allowed, w0.dispatch_refuse_reason = False, True, None  # type: ignore[attr-defined]
    watched = _worker_fields(w0)
    mount(page, "ins", "inspector", {"worker": watched, "series": series, "tasks": []})
    db_t = [now - 900 + 2 * i for i in range(450)]
    db_series: dict[str, Any] = {"t": db_t, "window_s": 900.0}
    for key in ("tasks_per_min", "p50_s", "p95_s", "success_rate", "online"):
        db_series[key] = [float(x) for x in rng.random(450)]
    mount(page, "db", "dashboard", {"series": db_series, "summary": {"state": "live"}})
    frames = []
    for k in range(ticks):
        for i in rng.choice(n, max(1, n // 50), replace=False):
            workers[i].current_tasks = int(rng.integers(0, 5))
            workers[i].cpu_usage_pct = float(rng.random() * 100)
        payload = differ.diff(*worker_columns(workers, slots))
        assert payload is not None
        at = now + k + 1
        series = {**series, "t": [*series["t"][1:], at]}
        for key in ("cpu", "ram", "gpu", "queue"):
            series[key] = [*series[key][1:], float(rng.random() * 100)]
        sample = {"t": at, "tasks_per_min": 30.0, "p50_s": 0.2, "p95_s": 0.9}
        sample.update(success_rate=0.98, online=float(n))
        frames.append(
            page.evaluate(TIMED_TOGETHER, [payload[0], b64_buffers(payload[1]), series, sample])
        )
    empty = [page.evaluate(TIMED_TOGETHER, [None, [], None, None]) for _ in range(ticks)]
    over = sum(f > 16.0 for f in frames)
    note = f"{ticks} frames, {over} over 16 ms (target: none)"
    return [
        Row(f"Table+Inspector+Dashboard @{n:,}: frame p50", statistics.median(frames), 16.0,
            "ms", False, "peer = the 16 ms frame budget"),
        Row("Table+Inspector+Dashboard: worst frame", max(frames), 16.0, "ms", False, note),
        Row("Table+Inspector+Dashboard: frame p50 vs an empty frame", statistics.median(frames),
            statistics.median(empty), "ms", False, "peer = no update, same page"),
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    args = ap.parse_args()
    n_workers, n_prompts, lines, ticks = (
        (2_000, 1_000, 1_000, 5) if args.quick else (10_000, 10_000, 6_000, 20)
    )
    from agentfm_nb.gateway import LocalMeshGateway

    rows: list[Row] = []
    with harness_page() as page:
        rows += bench_worker_table(page, n_workers, ticks)
        rows += bench_views_together(page, 2_000, max(ticks, 10))
        with (
            tempfile.TemporaryDirectory() as tmp,
            LocalMeshGateway(port=0, backend="embedded", artifacts_dir=Path(tmp)) as gw,
        ):
            rows += bench_scatter(page, gw.url, n_prompts)
        rows += bench_chat(page, lines)
    print_table("widgets (kernel-less Chromium harness)", rows, peer="naive full JSON")


if __name__ == "__main__":
    main()
