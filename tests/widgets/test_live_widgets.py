"""Widgets against the real embedded gateway: live payloads, throttling, Stop, fallbacks, keys."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _widget_helpers import CommRecorder, wait_until

from agentfm_nb.client import AgentFMClient
from agentfm_nb.widgets import ChatWidget, GatewayPanel, ScatterGrid, WorkerTable
from agentfm_nb.widgets._columnar import ColumnTable


def _table_from(rec: CommRecorder, saved: dict[str, Any] | None = None) -> ColumnTable:
    # `saved`: start where a browser joining now starts, from the saved snapshot trait (a live
    # table's first diffs may go out before the recorder is attached)
    table = ColumnTable()
    if saved:
        table.apply_snapshot(saved)
    for content, buffers in rec.custom():
        if content["kind"] == "diff":
            assert table.apply_diff(content, buffers)
        elif content["kind"] == "snapshot":
            table.apply_snapshot(content, buffers)
    return table


def _worker(client: AgentFMClient, name: str) -> Any:
    return next(w for w in client.workers.list() if w.name == name)


def test_worker_table_live_rows_match_the_gateway(gateway: Any) -> None:
    client = AgentFMClient(gateway.url)
    wt = WorkerTable(client, interval=0.5)
    rec = CommRecorder(wt)
    try:
        wait_until(lambda: wt.summary.get("state") == "live" and wt.stats["diffs"] >= 1)
        wait_until(lambda: bool(rec.custom("diff")), what="a diff message")
        table = _table_from(rec, wt._snapshot)
        listed = {str(w.peer_id): w for w in client.workers.list()}
        assert set(table.strings["peer_id"]) == set(listed)
        for row, pid in enumerate(table.strings["peer_id"]):
            assert table.strings["name"][row] == listed[pid].name
            assert table.cols["max"][row] == listed[pid].max_tasks
        assert wt.summary["online"] == len(listed)
        assert wt.summary["slots"] == sum(w.max_tasks for w in listed.values())
        # a browser that joins late asks for a snapshot and gets the same rows
        wt._handle_custom_msg({"kind": "resync"}, [])
        snap, bufs = rec.custom("snapshot")[-1]
        late = ColumnTable()
        late.apply_snapshot(snap, bufs)
        assert late.strings["peer_id"] == table.strings["peer_id"]
        wt.selected = [next(iter(listed))]
        assert wt.get_state()["selected"] == [next(iter(listed))]
    finally:
        wt.stop()
    assert wt.summary["state"] == "stopped"
    bundle = wt.mimebundle()
    assert f"{len(listed)} online" in bundle["text/plain"]
    assert "Echo" in bundle["text/html"]


def test_worker_table_shows_unreachable_gateway_with_backoff(start_gateway: Any) -> None:
    gw = start_gateway()
    url = gw.url
    gw.stop()
    wt = WorkerTable(AgentFMClient(url, retries=0, timeout=2.0), interval=0.5)
    try:
        wait_until(lambda: wt.summary.get("state") == "unreachable", what="unreachable state")
        first = wt.summary["retry_in"]
        wait_until(lambda: wt.summary.get("retry_in", 0) > first, what="backoff to grow")
        assert "Traceback" not in wt.summary["error"]
    finally:
        wt.stop()


def test_scatter_grid_throttles_and_ends_with_the_real_results(gateway: Any) -> None:
    client = AgentFMClient(gateway.url)
    prompts = [f"item {i}" for i in range(300)]
    grid = ScatterGrid(prompts, client=client, model="echo", max_concurrency=16)
    rec = CommRecorder(grid)
    grid.start()
    results = grid.result(timeout=120)
    assert [r.status for r in results] == ["success"] * 300
    diffs = rec.custom("diff")
    elapsed = grid.progress["elapsed"]
    # ~10 messages a second at most, however many prompt events happened
    assert grid.stats["events"] >= 600
    assert len(diffs) <= elapsed * 10 + 3
    table = _table_from(rec)
    assert table.n == 300 and set(table.cols["state"].tolist()) == {3}
    df = grid.dataframe
    assert list(df["prompt"]) == prompts and (df["status"] == "success").all()
    assert df["text"][5].strip() == "item 5"
    grid._handle_custom_msg({"kind": "detail", "index": 5}, [])
    detail = rec.custom("detail")[-1][0]
    assert detail["prompt"] == "item 5" and detail["text"].strip() == "item 5"
    assert "300/300 finished" in grid.mimebundle()["text/plain"]


def test_scatter_grid_stop_cancels_slow_tasks(start_gateway: Any) -> None:
    gw = start_gateway()
    client = AgentFMClient(gw.url)
    poet = _worker(client, "Poet")
    grid = ScatterGrid(["a", "b", "c", "d"], client=client, peer_ids=[str(poet.peer_id)])
    grid.start()
    wait_until(
        lambda: grid.progress.get("running", 0) > 0 or _worker(client, "Poet").current_tasks > 0
    )
    grid.stop()
    grid.result(timeout=30)
    states = set(grid.dataframe["status"])
    assert "cancelled" in states
    wait_until(lambda: _worker(client, "Poet").current_tasks == 0, what="Poet's slot to free")
    assert "cancelled" in grid._fallback_text()


def test_chat_streams_and_stop_really_cancels(start_gateway: Any) -> None:
    gw = start_gateway()
    client = AgentFMClient(gw.url)
    poet = _worker(client, "Poet")
    chat = ChatWidget(client, peer_id=str(poet.peer_id))
    rec = CommRecorder(chat)
    turn = chat.send("a poem about meshes")
    final = turn.result(timeout=60)
    chunks = rec.custom("chunk")
    assert len(chunks) >= 3  # streamed as it arrived, not in one piece at the end
    assert "".join(c["text"] for c, _ in chunks) == final["content"]
    assert final["status"] == "ok" and final["peer_id"] == str(poet.peer_id)
    # Stop: the stream closes, the gateway kills the agent and frees the slot
    turn2 = chat.send("another one")
    wait_until(lambda: len(chat._live_text.get(turn2.index, "")) > 0, what="first lines")
    chat.stop()
    cancelled = turn2.result(timeout=30)
    assert cancelled["status"] == "cancelled"
    assert 0 < len(cancelled["content"]) < len(final["content"]) + 50
    wait_until(lambda: _worker(client, "Poet").current_tasks == 0, what="Poet's slot to free")
    df = chat.history_df
    assert list(df["role"]) == ["user", "assistant", "user", "assistant"]
    chat.retry().result(timeout=60)
    assert chat.history[-2]["content"] == "another one"
    assert "a poem about meshes" in chat.mimebundle()["text/plain"]


def test_chat_reports_a_bad_peer_as_one_line(gateway: Any) -> None:
    chat = ChatWidget(
        AgentFMClient(gateway.url), peer_id="12D3KooWNotARealPeerButLongEnoughToLookLikeOne1234"
    )
    msg = chat.send("hi").result(timeout=30)
    assert msg["status"] == "error" and msg["error"] and "\n" not in msg["error"]
    assert chat.status["state"] == "error"


def test_no_api_key_in_any_widget_state(start_gateway: Any, api_key: str) -> None:
    gw = start_gateway(api_keys=[api_key])
    client = AgentFMClient(gw.url, api_key=api_key)
    wt = WorkerTable(client)
    chat = ChatWidget(client, model="echo")
    grid = ScatterGrid(["x", "y"], client=client, model="echo")
    panel = GatewayPanel(gw, live=False)
    try:
        wait_until(lambda: wt.summary.get("state") == "live")
        chat.send("hello").result(timeout=30)
        grid.start().result(timeout=30)
        assert grid.dataframe["status"].tolist() == ["success", "success"]
    finally:
        wt.stop()
    for w in (wt, chat, grid, panel):
        state = json.dumps(w.get_state(), default=lambda o: bytes(o).hex())
        shown = json.dumps(w.mimebundle()) + repr(w)
        assert api_key not in state and api_key not in shown


def test_gateway_panel_stop_button(start_gateway: Any) -> None:
    gw = start_gateway()
    panel = GatewayPanel(gw)
    wait_until(lambda: panel.info.get("online_workers") == 4, what="health poll")
    assert panel.info["running"] and panel.info["pid"] == gw.pid
    panel._handle_custom_msg({"kind": "stop"}, [])
    wait_until(lambda: not gw.running and not panel.info["running"], what="gateway stopped")
    assert "stopped" in panel.mimebundle()["text/plain"]


@pytest.mark.parametrize("cls", [WorkerTable, ChatWidget])
def test_fallbacks_exist_before_any_data(cls: Any, gateway: Any) -> None:
    w = cls(AgentFMClient(gateway.url))
    try:
        bundle = w.mimebundle()
        assert bundle["text/plain"] and bundle["text/html"].startswith("<")
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == w.model_id
    finally:
        if isinstance(w, WorkerTable):
            w.stop()


def test_model_is_routed_like_the_gateway(gateway: Any) -> None:
    """Peer id, then agent name, then engine (case-insensitive): model="Poet" finds the Poet."""
    client = AgentFMClient(gateway.url)
    by_name = {w.name: str(w.peer_id) for w in client.workers.list()}
    for model, expected in [
        ("Poet", {"Poet"}),
        ("analyst", {"Analyst"}),
        (by_name["Scribe"], {"Scribe"}),
        ("LLAMA3.2", {"Poet", "Analyst"}),
    ]:
        msg = ChatWidget(client, model=model).send("hi").result(timeout=30)
        assert msg["status"] == "ok", (model, msg)
        assert msg["peer_id"] in {by_name[n] for n in expected}, model
        grid = ScatterGrid(["a", "b"], client=client, model=model)
        assert (grid.start().result(timeout=30).to_dataframe()["status"] == "success").all()
        assert {w["name"] for w in grid.workers} == expected
    msg = ChatWidget(client, model="nobody").send("hi").result(timeout=30)
    assert msg["status"] == "error" and "no online worker serves model 'nobody'" in msg["error"]


def test_gateway_panel_first_state_has_the_worker_count(start_gateway: Any) -> None:
    # Counted in the constructor (the cell), so a saved notebook never shows "workers: ?".
    panel = GatewayPanel(start_gateway(), live=False)
    assert panel.info["online_workers"] == 4
    assert "4 workers online" in panel.mimebundle()["text/plain"]


RETRY_MESH = """
[[workers]]
name = "Picky"
engine = "picky"
author = "tests"
kind = "command"
argv = ["{py}", "-c", "import sys; t = sys.stdin.read(); sys.exit(3) if 'bad' in t else print(t)"]
max_tasks = 4
"""


def test_scatter_retry_counts_only_the_new_run(start_gateway: Any) -> None:
    import sys

    gw = start_gateway(RETRY_MESH.replace("{py}", sys.executable))
    prompts = [f"good {i}" for i in range(8)] + ["bad 1", "bad 2"]
    grid = ScatterGrid(prompts, client=AgentFMClient(gw.url), model="picky", max_retries=0)
    grid.start().result(timeout=60)
    assert grid.progress["failed"] == 2 and grid.progress["run_total"] == 10
    grid.retry_failed().result(timeout=60)
    p = grid.progress
    # the retry's rate and ETA are about its 2 prompts, not the 8 successes before it
    assert p["run_total"] == 2 and p["run_finished"] == 2, p
    assert p["done"] == 8 and p["failed"] == 2, p
    detail = grid._detail(0, 100)
    assert detail["agent"] == "Picky" and detail["worker_id"]
    assert set(grid._details) == {str(i) for i in range(10)}


def test_scatter_rows_carry_their_files(start_gateway: Any, tmp_path: Any) -> None:
    import sys

    from tests.browser._widget_checks import WRITER

    mesh = (
        '[[workers]]\nname = "Writer"\nengine = "writer"\nauthor = "tests"\nkind = "command"\n'
        f"argv = {json.dumps([sys.executable, '-c', WRITER])}\nmax_tasks = 2\n"
    )
    gw = start_gateway(mesh)
    client = AgentFMClient(gw.url, artifacts_dir=gw.artifacts_dir)
    grid = ScatterGrid(["one", "two"], client=client, model="writer")
    rec = CommRecorder(grid)
    grid.start().result(timeout=60)
    cards = grid._details["1"]["artifacts"]
    assert [c["name"] for c in cards] == ["report.md"] and "all good" in cards[0]["preview"]
    grid._handle_custom_msg({"kind": "artifact", "key": cards[0]["key"]}, [])
    reply, buffers = rec.custom("artifact_file")[-1]
    assert reply["name"] == "report.md" and b"all good" in buffers[0]
    grid._handle_custom_msg({"kind": "artifact", "key": "../../etc/passwd"}, [])
    assert len(rec.custom("artifact_file")) == 1  # only files the rows wrote can be read
