"""``GET /v1/events`` as Server-Sent Events over a real socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from tests.mesh._http_support import echo_worker, serve_inprocess


async def _frames(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, Any]]:
    """(kind, payload): ("comment", text) or (event name, data dict)."""
    name: str | None = None
    async for line in lines:
        if line.startswith(":"):
            yield ("comment", line[1:])
        elif line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            assert name is not None
            yield (name, json.loads(line[len("data: ") :]))
            name = None


async def test_ready_heartbeat_and_mesh_events(tmp_path: Path) -> None:
    async with (
        serve_inprocess(tmp_path, [echo_worker()], heartbeat_s=0.2) as served,
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
        client.stream("GET", "/v1/events") as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        frames = _frames(r.aiter_lines())
        assert await anext(frames) == ("comment", "ready")
        assert await anext(frames) == ("comment", "heartbeat")
        peer = served.peer("Echo")
        served.mesh.set_online(peer, False)
        assert await anext(frames) == ("worker_offline", {"peer_id": peer})
        served.mesh.set_online(peer, True)
        kind, data = await anext(frames)
        assert kind == "worker_online"
        assert data == {"peer_id": peer, "agent_name": "Echo", "honesty_score": 0.5}
        done = await client.post("/api/execute", json={"worker_id": peer, "prompt": "hi"})
        assert done.status_code == 200
        seen: dict[str, Any] = {}
        while "task_finished" not in seen:
            kind, data = await anext(frames)
            seen[kind] = data
        assert seen["task_started"]["peer_id"] == peer
        finished = seen["task_finished"]
        assert finished["task_id"] == seen["task_started"]["task_id"]
        assert finished["status"] == "ok"
        assert finished["duration_s"] >= 0


async def test_event_stream_ends_when_gateway_stops(tmp_path: Path) -> None:
    async with serve_inprocess(tmp_path, [echo_worker()]) as served:
        client = httpx.AsyncClient(base_url=served.url, timeout=30)
        r = await client.send(client.build_request("GET", "/v1/events"), stream=True)
        lines = r.aiter_lines()
        assert await anext(lines) == ":ready"
        assert served.app.state.gateway.streams
        from agentfm_nb.mesh.app import begin_shutdown

        begin_shutdown(served.app)
        rest = [line async for line in lines]  # ends instead of hanging
        assert rest == [""]
        await r.aclose()
        await client.aclose()
