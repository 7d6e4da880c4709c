"""Rows 52-60: ``/v1/events`` (``boss/api_events.go``), ``/v1/about``, ``/health`` and
``/api/workers`` (``boss/api_about.go``, ``boss/api.go``, ``boss/api_handlers.go``)."""

from __future__ import annotations

import json

import httpx

from tests.conformance.conftest import Conformance


def _frames(client: httpx.Client, count: int) -> list[str]:
    frames: list[str] = []
    with client.stream("GET", "/v1/events") as r:
        buf = ""
        for text in r.iter_text():
            buf += text
            while "\n\n" in buf:
                frame, buf = buf.split("\n\n", 1)
                frames.append(frame)
            if len(frames) >= count:
                break
    return frames


def test_row52_events_headers(client: httpx.Client) -> None:
    """api_events.go:handleEvents: text/event-stream, no-cache, X-Accel-Buffering no."""
    with client.stream("GET", "/v1/events") as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"


def test_row53_ready_comment(client: httpx.Client) -> None:
    """api_events.go:handleEvents: `:ready` once subscribed (heartbeats every 15 s after)."""
    assert _frames(client, 1) == [":ready"]


def test_row54_event_names(client: httpx.Client, conf: Conformance) -> None:
    """api_events.go:handleEvents: `event: <type>\\ndata: <json>`; ours also publishes
    task_started / task_finished (docs/compatibility.md)."""
    trigger = {"worker_id": conf.peers["Echo"], "prompt": "hi", "task_id": "conf-row54"}
    mine: list[tuple[str, dict[str, object]]] = []
    with client.stream("GET", "/v1/events") as r:
        buf = ""
        for text in r.iter_text():
            buf += text
            while "\n\n" in buf:
                frame, buf = buf.split("\n\n", 1)
                if frame == ":ready":
                    client.post("/api/execute", json=trigger)
                    continue
                head, _, data = frame.partition("\ndata: ")
                payload = json.loads(data)
                if payload.get("task_id") == "conf-row54":
                    mine.append((head, payload))
            if len(mine) == 2:
                break
    assert [head for head, _ in mine] == ["event: task_started", "event: task_finished"]
    assert mine[0][1]["peer_id"] == conf.peers["Echo"]


def test_row55_events_method(client: httpx.Client) -> None:
    """api_events.go:handleEvents: GET only, plain-text 405 (the bus always exists here)."""
    r = client.post("/v1/events")
    assert (r.status_code, r.text) == (405, "Method not allowed\n")


def test_row56_about(client: httpx.Client) -> None:
    """api_about.go:handleAbout: exactly 7 fields, uptime_seconds an integer, the default
    reputation floor -0.5."""
    r = client.get("/v1/about")
    body = r.json()
    assert list(body) == [
        "boss_peer_id",
        "relay_peer_id",
        "relay_multiaddr",
        "reputation_floor",
        "ledger_tree_size",
        "version",
        "uptime_seconds",
    ]
    assert isinstance(body["uptime_seconds"], int)
    assert body["reputation_floor"] == -0.5
    assert body["boss_peer_id"].startswith("12D3KooW")
    assert (body["relay_peer_id"], body["relay_multiaddr"], body["ledger_tree_size"]) == ("", "", 0)


def test_row57_health(client: httpx.Client, conf: Conformance) -> None:
    """api.go:handleHealth: GET only, {"online_workers":N,"status":"ok"}, no CORS."""
    r = client.get("/health")
    online = len(conf.peers) - 1
    assert r.text == f'{{"online_workers":{online},"status":"ok"}}\n'
    assert "access-control-allow-origin" not in r.headers
    assert client.post("/health").status_code == 405


def test_row58_workers_shape(client: httpx.Client) -> None:
    """api_handlers.go:handleGetWorkers / api.go:apiWorker: the fields, omitempty ones absent."""
    body = client.get("/api/workers").json()
    assert set(body) == {"success", "online_count", "offline_count", "agents"}
    required = {
        "peer_id", "author", "name", "status", "hardware", "description", "cpu_usage_pct",
        "ram_free_gb", "current_tasks", "max_tasks", "has_gpu", "gpu_used_gb", "gpu_total_gb",
        "gpu_usage_pct", "honesty_score", "is_equivocator", "dispatch_allowed", "online",
    }  # fmt: skip
    for agent in body["agents"]:
        assert required <= set(agent)
        assert set(agent) - required <= {"last_seen"}


def test_row59_offline_count(client: httpx.Client) -> None:
    """api_handlers.go:handleGetWorkers: offline peers are skipped before counting unless
    include_offline=true."""
    assert client.get("/api/workers").json()["offline_count"] == 0
    body = client.get("/api/workers", params={"include_offline": "true"}).json()
    assert body["offline_count"] == 1
    assert [a["name"] for a in body["agents"] if not a["online"]] == ["Ghost"]


def test_row60_include_offline_exactly_true(client: httpx.Client) -> None:
    """api_handlers.go:handleGetWorkers: only the exact value `true` (first value) counts."""
    for value in ("1", "True", "yes", "on", "TRUE"):
        body = client.get("/api/workers", params={"include_offline": value}).json()
        assert (body["offline_count"], all(a["online"] for a in body["agents"])) == (0, True)
    r = client.get("/api/workers?include_offline=true&include_offline=false")
    assert r.json()["offline_count"] == 1
