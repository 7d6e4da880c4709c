"""``/api/*`` over real loopback sockets against ``python -m agentfm_nb.mesh`` processes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentfm_nb.mesh.peerid import new_identity
from tests.conftest import worker_toml
from tests.mesh._http_support import GATED_AGENT, pid_alive, wait_until

WIRE_FIELDS = {
    "peer_id", "author", "name", "status", "hardware", "description", "cpu_usage_pct",
    "ram_free_gb", "current_tasks", "max_tasks", "has_gpu", "gpu_used_gb", "gpu_total_gb",
    "gpu_usage_pct", "honesty_score", "is_equivocator", "dispatch_allowed", "online", "last_seen",
}  # fmt: skip


def _agents(url: str, **params: Any) -> dict[str, Any]:
    r = httpx.get(f"{url}/api/workers", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    return body


def _peer(url: str, name: str, **params: Any) -> str:
    agents = _agents(url, **params)["agents"]
    return str(next(a["peer_id"] for a in agents if a["name"] == name))


def test_workers_envelope_has_every_field(gateway: Any) -> None:
    body = _agents(gateway.url)
    assert body["success"] is True
    assert body["online_count"] == len(body["agents"]) >= 3
    assert body["offline_count"] == 0
    for agent in body["agents"]:
        assert set(agent) >= WIRE_FIELDS, WIRE_FIELDS - set(agent)
        assert agent["peer_id"].startswith("12D3KooW")
        assert agent["status"] in ("AVAILABLE", "BUSY")
        assert " (" in agent["hardware"]
    names = {a["name"] for a in body["agents"]}
    assert {"Echo", "Poet", "Scribe", "Analyst"} <= names


def test_include_offline_lists_remembered_peers(start_gateway: Any) -> None:
    config = worker_toml("Up", kind="python", callable="agentfm_nb.mesh.demo:echo") + worker_toml(
        "Down", kind="python", callable="agentfm_nb.mesh.demo:echo", online=False
    )
    gw = start_gateway(config)
    online = _agents(gw.url)
    assert [a["name"] for a in online["agents"]] == ["Up"]
    # offline peers are skipped before they are counted unless asked for
    assert (online["online_count"], online["offline_count"]) == (1, 0)
    everyone = _agents(gw.url, include_offline="true")
    assert (everyone["online_count"], everyone["offline_count"]) == (1, 1)
    assert sorted(a["name"] for a in everyone["agents"]) == ["Down", "Up"]
    down = next(a for a in everyone["agents"] if a["name"] == "Down")
    assert down["online"] is False
    # an offline peer cannot take work
    r = httpx.post(f"{gw.url}/api/execute", json={"worker_id": down["peer_id"], "prompt": "x"})
    assert (r.status_code, r.text.strip()) == (404, "Worker not found or offline")


def test_execute_streams_lines_then_no_files(gateway: Any) -> None:
    peer = _peer(gateway.url, "Echo")
    with httpx.stream(
        "POST", f"{gateway.url}/api/execute", json={"worker_id": peer, "prompt": "one\ntwo"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        assert r.headers.get("transfer-encoding") == "chunked"
        text = r.read().decode()
    assert text == "one\ntwo\n\n[AGENTFM: NO_FILES]\n"


def test_execute_artifact_zip_named_by_task_id(gateway: Any) -> None:
    peer = _peer(gateway.url, "Scribe")
    task_id = "t-artifact.1"
    r = httpx.post(
        f"{gateway.url}/api/execute",
        json={"worker_id": peer, "prompt": "quarterly numbers", "task_id": task_id},
        timeout=60,
    )
    assert r.status_code == 200
    assert r.text.endswith("[AGENTFM: FILES_INCOMING]\n")
    zpath = Path(gateway.artifacts_dir) / f"{task_id}.zip"
    assert zpath.is_file()
    with zipfile.ZipFile(zpath) as zf:
        assert "report.md" in zf.namelist()
    metrics = httpx.get(f"{gateway.url}/metrics").text
    built = next(x for x in metrics.splitlines() if x.startswith("agentfm_artifacts_built_total"))
    assert float(built.split()[-1]) >= 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "Invalid JSON payload"),
        (b"[1, 2]", 400, "Invalid JSON payload"),
        (b'{"prompt": "hi"}', 400, "worker_id is required"),
        (b'{"worker_id": "PEER"}', 400, "prompt is required"),
        (b'{"worker_id": "PEER", "prompt": ""}', 400, "prompt is required"),
        (b'{"worker_id": "PEER", "prompt": "hi", "task_id": "../x"}', 400,
         "Invalid task_id format"),
        (b'{"worker_id": "PEER", "prompt": "hi", "task_id": 7}', 400, "Invalid JSON payload"),
        (b'{"worker_id": "PEER", "prompt": "hi", "task_id": "' + b"a" * 129 + b'"}', 400,
         "Invalid task_id format"),
        (b'{"worker_id": "not-a-peer", "prompt": "hi"}', 404, "Worker not found or offline"),
        (b'{"worker_id": "12D3KooWxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "prompt": "hi"}',
         404, "Worker not found or offline"),
        (b'{"worker_id": "UNKNOWN", "prompt": "hi"}', 404, "Worker not found or offline"),
    ],
)  # fmt: skip
def test_execute_plain_text_errors(gateway: Any, body: bytes, status: int, message: str) -> None:
    peer = _peer(gateway.url, "Echo")
    unknown = new_identity().peer_id
    body = body.replace(b"UNKNOWN", unknown.encode()).replace(b"PEER", peer.encode())
    for path in ("/api/execute", "/api/execute/async"):
        if path.endswith("async") and b"task_id" in body:
            continue  # the async route takes no client task id
        r = httpx.post(f"{gateway.url}{path}", content=body)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text.strip() == message


def test_body_over_cap_is_cut_and_invalid(gateway: Any) -> None:
    peer = _peer(gateway.url, "Echo")
    big = json.dumps({"worker_id": peer, "prompt": "x" * (1 << 20)})
    r = httpx.post(f"{gateway.url}/api/execute", content=big)
    assert (r.status_code, r.text) == (400, "Invalid JSON payload\n")


def test_unknown_route_and_method_are_plain_text(gateway: Any) -> None:
    r = httpx.get(f"{gateway.url}/api/nothing")
    assert (r.status_code, r.text) == (404, "404 page not found\n")
    r = httpx.get(f"{gateway.url}/api/execute")
    assert (r.status_code, r.text) == (405, "Method not allowed\n")


def test_worker_at_capacity_answers_in_band_and_client_disconnect_kills_agent(
    start_gateway: Any, write_agent: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    agent = write_agent(GATED_AGENT)
    gw = start_gateway(agent.worker("Gated", max_tasks=1, env={"GATE_DIR": str(gate)}))
    peer = _peer(gw.url, "Gated")
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", f"{gw.url}/api/execute", json={"worker_id": peer, "prompt": "p"}
        ) as r,
    ):
        lines = r.iter_lines()
        # the first line arrives while the agent is still blocked on its gate: streaming
        assert next(lines) == "first line"
        (pid_file,) = gate.glob("pid-*")
        pid = int(pid_file.read_text())
        assert pid_alive(pid)
        busy = _agents(gw.url)["agents"][0]
        assert (busy["status"], busy["current_tasks"]) == ("BUSY", 1)
        second = httpx.post(f"{gw.url}/api/execute", json={"worker_id": peer, "prompt": "q"})
        assert (second.status_code, second.text) == (
            200,
            "❌ ERROR: Worker is at max capacity (1/1). Try another worker.\n",
        )
        # leaving the block closes the connection mid-stream
    assert wait_until(lambda: not pid_alive(pid)), "agent survived the client disconnect"
    assert wait_until(lambda: _agents(gw.url)["agents"][0]["current_tasks"] == 0)
    # the freed slot takes work again
    (gate / "release").write_text("go")
    r = httpx.post(f"{gw.url}/api/execute", json={"worker_id": peer, "prompt": "again"})
    assert r.text == "first line\nsecond line\n\n[AGENTFM: NO_FILES]\n"
    metrics = httpx.get(f"{gw.url}/metrics").text
    assert 'agentfm_tasks_total{status="error"} 1.0' in metrics  # the abandoned stream
    assert 'agentfm_tasks_total{status="ok"} 2.0' in metrics  # the refusal is a clean answer


def test_agent_failure_is_in_band_and_the_stream_counts_ok(
    start_gateway: Any, write_agent: Any
) -> None:
    agent = write_agent("print('partial', flush=True)\nraise SystemExit(3)\n")
    gw = start_gateway(agent.worker("Crashy"))
    peer = _peer(gw.url, "Crashy")
    r = httpx.post(f"{gw.url}/api/execute", json={"worker_id": peer, "prompt": "p"})
    assert r.status_code == 200
    assert r.text == "partial\n⚠️  Sandbox exited: exit status 3\n\n[AGENTFM: NO_FILES]\n"
    metrics = httpx.get(f"{gw.url}/metrics").text
    assert 'agentfm_tasks_total{status="ok"} 1.0' in metrics
    assert 'agentfm_tasks_total{status="error"} 0.0' in metrics
