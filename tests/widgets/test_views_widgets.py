"""WorkerInspector, TaskHistory and MeshDashboard against real gateways: live state, messages,
DataFrames, artifact reads, bad input, and no secret in any saved state."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from _widget_helpers import CommRecorder, wait_until

from agentfm_nb.client import AgentFMClient
from agentfm_nb.journal import journal
from agentfm_nb.widgets import MeshDashboard, TaskHistory, WorkerInspector
from agentfm_nb.widgets.dashboard import histogram_quantile, parse_metrics


@pytest.fixture
def client(gateway: Any) -> Iterator[AgentFMClient]:
    journal.clear()
    with AgentFMClient(gateway.url, artifacts_dir=gateway.artifacts_dir) as c:
        yield c
    journal.clear()


def _peer(client: AgentFMClient, name: str) -> str:
    return str(next(w for w in client.workers.list() if w.name == name).peer_id)


def test_task_history_live_rows_filters_artifacts_and_dataframe(client: AgentFMClient) -> None:
    echo, scribe = _peer(client, "Echo"), _peer(client, "Scribe")
    client.tasks.run(worker_id=echo, prompt="before the widget")
    history = TaskHistory(client)
    small = TaskHistory(client, limit=2)
    rec = CommRecorder(history)
    try:
        assert [r["prompt"] for r in history._rows] == ["before the widget"]
        client.tasks.run(worker_id=scribe, prompt="tides")
        client.tasks.scatter(["a", "b"], peer_ids=[echo])
        wait_until(lambda: len(history.records) == 4, what="four journal rows")

        def streamed() -> dict[int, dict[str, Any]]:
            rows: dict[int, dict[str, Any]] = {}
            for content, _ in rec.custom("rows"):
                rows.update({r["seq"]: r for r in content["rows"]})
            return rows

        wait_until(lambda: len(streamed()) >= 3, what="live rows messages")
        wait_until(lambda: any(r["artifacts"] for r in streamed().values()), what="file cards")
        rows = streamed()
        tides = next(r for r in rows.values() if r["prompt"] == "tides")
        assert tides["agent"] == "Scribe" and tides["status"] == "done"
        assert [c["name"] for c in tides["artifacts"]] == ["report.md"]
        assert tides["artifacts"][0]["preview"].startswith("#")
        history._on_artifact({"key": f"{tides['seq']}:report.md"}, [])
        history._on_artifact({"key": f"{tides['seq']}:../../etc/passwd"}, [])
        history._on_artifact({"key": "nonsense"}, [])
        files = rec.custom("artifact_file")
        assert len(files) == 1 and files[0][0]["key"] == f"{tides['seq']}:report.md"
        assert files[0][1][0].startswith(b"#")
        df = history.dataframe
        prompts = df["prompt"].tolist()
        assert prompts[:2] == ["before the widget", "tides"] and sorted(prompts[2:]) == ["a", "b"]
        assert df.loc[df["prompt"] == "tides", "artifacts"].tolist() == [["report.md"]]
        history.query, history.status_filter = "TIDES", "done"
        assert history.filtered_dataframe["prompt"].tolist() == ["tides"]
        history.status_filter = "failed"
        assert history.filtered_dataframe.empty
        assert len(small.records) == 2 and small.records[-1].seq == history.records[-1].seq
        history._on_resync({}, [])
        assert len(rec.custom("rows")[-1][0]["rows"]) == 4
        assert history._fallback_text() == "TaskHistory: 4 tasks (4 done)"
        assert "tides" in history._fallback_html()
    finally:
        history.close()
        small.close()


def test_inspector_telemetry_dispatch_tasks_and_not_found(client: AgentFMClient) -> None:
    ins = WorkerInspector("Scribe", client, interval=0.25)
    ghost = WorkerInspector("12D3KooWNoSuchPeerAtAllxxxxxxxxxxxxxxxxxxxxxxxxxxxx", client)
    try:
        wait_until(lambda: len(ins.series.get("t", [])) >= 3, what="three telemetry samples")
        w = ins.worker
        assert (w["name"], w["engine"], w["author"]) == ("Scribe", "qwen2.5", "bob")
        assert w["description"].startswith("Writes report.md") and w["peer_id"] == ins.peer_id
        assert set(ins.series) >= {"t", "cpu", "ram", "gpu", "queue", "max_tasks"}
        assert ins.series["max_tasks"] == 4
        ins.dispatch("harbour").result(60)
        d = ins.dispatch_state
        assert d["state"] == "done" and "report.md" in d["text"]
        assert [c["name"] for c in d["artifacts"]] == ["report.md"]
        with pytest.raises(ValueError):
            ins.dispatch("   ")
        wait_until(lambda: bool(ins.tasks), what="the dispatch in recent tasks")
        assert ins.tasks[0]["prompt"] == "harbour" and ins.tasks[0]["task_id"] == d["task_id"]
        assert ins.tasks_dataframe["prompt"].tolist() == ["harbour"]
        frame = ins.dataframe
        assert list(frame.columns) == ["time", "cpu_pct", "ram_free_gb", "gpu_pct", "queue"]
        assert len(frame) >= 3
        assert ins._fallback_text().startswith("WorkerInspector: Scribe (qwen2.5)")
        wait_until(lambda: ghost.state == "not found", what="an unknown peer reported")
        assert ghost.worker["online"] is False
    finally:
        ins.close()
        ghost.close()


def test_dashboard_rates_latency_success_online(client: AgentFMClient) -> None:
    dash = MeshDashboard(client, interval=0.25)
    rec = CommRecorder(dash)
    try:
        wait_until(lambda: dash.summary.get("state") == "live", what="first scrape")
        client.tasks.scatter([f"p{i}" for i in range(6)], peer_ids=[_peer(client, "Echo")])

        def latest() -> dict[str, Any]:
            samples = rec.custom("sample")
            return samples[-1][0]["sample"] if samples else {}

        wait_until(lambda: (latest().get("tasks_per_min") or 0) > 0, what="a task rate")
        wait_until(lambda: latest().get("p95_s") is not None, what="latency percentiles")
        s = latest()
        assert s["success_rate"] == 1.0 and s["online"] == 4.0
        assert 0 <= s["p50_s"] <= s["p95_s"]
        assert dash.summary["latency_source"] == "events"
        df = dash.dataframe
        assert list(df.columns) == [
            "time", "tasks_per_min", "p50_s", "p95_s", "success_rate", "online",
        ]  # fmt: skip
        assert df["online"].iloc[-1] == 4.0
        dash.stop()
        assert dash.summary["state"] == "stopped" and len(dash.series["t"]) == len(df)
    finally:
        dash.close()


def test_dashboard_metrics_parsing_and_histogram_estimates() -> None:
    text = (
        'agentfm_tasks_total{status="ok"} 8\nagentfm_tasks_total{status="error"} 2\n'
        'agentfm_task_duration_seconds_bucket{le="1.0"} 4\n'
        'agentfm_task_duration_seconds_bucket{le="5.0"} 9\n'
        'agentfm_task_duration_seconds_bucket{le="+Inf"} 10\n'
        "agentfm_task_duration_seconds_count 10\nagentfm_workers_online 3\n"
    )
    s = parse_metrics(text, 100.0)
    assert (s.total, s.ok, s.online) == (10.0, 8.0, 3.0)
    assert histogram_quantile(0.5, s.buckets) == pytest.approx(1.8)
    assert histogram_quantile(0.95, s.buckets) == 5.0  # in +Inf: the last finite bound
    assert histogram_quantile(0.5, []) is None
    with pytest.raises(ValueError):
        parse_metrics("agentfm_tasks_total{status=", 0.0)


def test_unreachable_gateway_and_no_secrets_in_state(start_gateway: Any, api_key: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    gone = MeshDashboard(dead, interval=0.25)
    lost = WorkerInspector("Echo", dead, interval=0.25)
    gw = start_gateway(api_keys=[api_key])
    with AgentFMClient(gw.url, api_key=api_key) as authed:
        views = [
            WorkerInspector("Echo", authed, interval=0.25),
            MeshDashboard(authed, interval=0.25),
        ]
        history = TaskHistory(authed)
        try:
            wait_until(lambda: gone.summary.get("state") == "unreachable", what="dashboard error")
            wait_until(lambda: lost.state == "unreachable", what="inspector error")
            wait_until(lambda: views[0].state == "live", what="authed inspector")
            views[0].dispatch("hi").result(60)
            wait_until(lambda: views[1].summary.get("state") == "live", what="authed dashboard")
            wait_until(lambda: len(history.records) == 1, what="the authed task")
            for view in [*views, history, gone, lost]:
                view.publish()
                state = json.dumps(view.get_state(), default=str)
                assert api_key not in state and api_key not in view._fallback_html()
        finally:
            for view in [*views, history, gone, lost]:
                view.close()
