"""The raw ASGI ``/api/execute`` endpoint, driven in-process message by message.

The wire answers are pinned by the conformance suite over real sockets; these cases pin what
a socket cannot show: the exact ASGI messages, the disconnect watcher started only when a
stream waits, each way a stream ends settling its books once, and the fast JSON path giving
what the lenient one gives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from agentfm_nb.mesh.app import begin_shutdown, create_app, gateway_state
from agentfm_nb.mesh.config import MeshConfig, WorkerSpec
from agentfm_nb.mesh.routes.decode import GoDecodeError, decode, fill, first_value
from agentfm_nb.mesh.routes.dispatch import EXECUTE_FIELDS
from agentfm_nb.mesh.runtime import Mesh
from agentfm_nb.mesh.taskrun import SHUTDOWN_TAIL
from tests.mesh._http_support import echo_worker

CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type"),
]
STREAM_HEADERS = [
    *CORS,
    (b"content-type", b"text/plain"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass
class Exchange:
    """One request's ASGI side: the body goes in once, then ``receive`` waits for ``leave``
    (or the response's end, as uvicorn answers ``http.disconnect`` then)."""

    body: bytes
    sent: list[MutableMapping[str, Any]] = field(default_factory=list)
    receives: int = 0
    left: asyncio.Event = field(default_factory=asyncio.Event)

    async def receive(self) -> dict[str, Any]:
        self.receives += 1
        if self.receives == 1:
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.left.set()

    @property
    def body_bytes(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def _scope(method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/api/execute",
        "raw_path": b"/api/execute",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Starlette]:
    workers = [
        echo_worker(max_tasks=1),
        WorkerSpec(
            name="Hang",
            kind="python",
            callable="tests.mesh._runtime_pyagents:hang",
            engine="hang",
            max_tasks=1,
        ),
    ]
    mesh = Mesh(
        MeshConfig(workers=workers, seed="raw-execute"),
        artifacts_dir=tmp_path / "artifacts",
        work_dir=tmp_path / "work",
    )
    await mesh.start()
    try:
        yield create_app(mesh, api_keys=None)
    finally:
        await mesh.aclose()


def _peer(app: Starlette, name: str) -> str:
    return next(s.peer_id for s in gateway_state(app).mesh.snapshot() if s.name == name)


async def _until_running(app: Starlette) -> None:
    """Until the mesh runs a task (polled: the runtime has no event for it)."""
    for _ in range(1000):
        if gateway_state(app).mesh.running_tasks:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no task started")


def _count(app: Starlette, status: str) -> float:
    value = gateway_state(app).metrics.tasks.labels(status=status)._value.get()
    return float(value)


def _request(worker_id: str, prompt: str = "hello", **more: str) -> bytes:
    return json.dumps({"worker_id": worker_id, "prompt": prompt, **more}).encode()


async def test_a_quick_task_is_headers_then_one_final_body(app: Starlette) -> None:
    ex = Exchange(_request(_peer(app, "Echo"), task_id="quick-1"))
    await app(_scope(), ex.receive, ex.send)
    assert ex.sent == [
        {"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS},
        {
            "type": "http.response.body",
            "body": b"hello\n\n[AGENTFM: NO_FILES]\n",
            "more_body": False,
        },
    ]
    # the body was read, and the answer was ready without waiting: no watcher ever listened
    assert ex.receives == 1
    state = gateway_state(app)
    assert not state.inflight and not state.streams
    assert _count(app, "ok") == 1


async def test_a_full_worker_answers_its_capacity_line(app: Starlette) -> None:
    peer = _peer(app, "Hang")
    first = Exchange(_request(peer, task_id="hold-1"))
    running = asyncio.ensure_future(app(_scope(), first.receive, first.send))
    await _until_running(app)
    second = Exchange(_request(peer, task_id="busy-1"))
    await app(_scope(), second.receive, second.send)
    assert second.sent[0]["headers"] == STREAM_HEADERS
    assert second.body_bytes.endswith(b"Worker is at max capacity (1/1). Try another worker.\n")
    assert _count(app, "ok") == 1  # the capacity answer is a clean end
    first.left.set()
    await running


async def test_a_client_leaving_stops_the_agent_and_settles_once(app: Starlette) -> None:
    peer = _peer(app, "Hang")
    ex = Exchange(_request(peer, task_id="leave-1"))
    running = asyncio.ensure_future(app(_scope(), ex.receive, ex.send))
    state = gateway_state(app)
    await _until_running(app)
    assert "leave-1" in state.inflight
    ex.left.set()
    await asyncio.wait_for(running, 10)
    assert not state.mesh.running_tasks and not state.inflight and not state.streams
    assert _count(app, "error") == 1 and _count(app, "ok") == 0
    assert [m["type"] for m in ex.sent] == ["http.response.start"]  # no tail for nobody
    # the same task_id is taken again at once
    again = Exchange(_request(_peer(app, "Echo"), task_id="leave-1"))
    await app(_scope(), again.receive, again.send)
    assert again.body_bytes == b"hello\n\n[AGENTFM: NO_FILES]\n"


async def test_shutdown_ends_an_open_stream_with_the_kill_tail(app: Starlette) -> None:
    ex = Exchange(_request(_peer(app, "Hang"), task_id="stop-1"))
    running = asyncio.ensure_future(app(_scope(), ex.receive, ex.send))
    state = gateway_state(app)
    await _until_running(app)
    begin_shutdown(app)
    await asyncio.wait_for(running, 10)
    assert ex.sent[-1] == {"type": "http.response.body", "body": SHUTDOWN_TAIL, "more_body": False}
    assert not state.inflight and _count(app, "error") == 1


async def test_refusals_keep_their_words_and_cors(app: Starlette) -> None:
    cases = [
        (_scope("GET"), b"", 405, b"Method not allowed\n"),
        (_scope(), b"{", 400, b"Invalid JSON payload\n"),
        (_scope(), _request("12D3KooWnope"), 404, b"Worker not found or offline\n"),
    ]
    for scope, body, status, text in cases:
        ex = Exchange(body)
        await app(scope, ex.receive, ex.send)
        start = ex.sent[0]
        assert start["status"] == status
        assert start["headers"][:3] == CORS
        assert (b"x-content-type-options", b"nosniff") in start["headers"]
        assert ex.body_bytes == text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"worker_id":"w","prompt":"p"}',
        b' \n{"WORKER_ID":"w","Prompt":"p","feedback_rating":3}\t',
        b'{"worker_id":"w","prompt":"p","feedback_rating":123456789012345678901234567890}',
        b'{"worker_id":"w","prompt":"\\ud800"}',  # lone surrogate: the lenient path
        b'{"worker_id":"w","prompt":"p"} trailing',  # trailing bytes: the lenient path
        b'{"worker_id":"w","prompt":"\xff"}',  # invalid UTF-8: the lenient path
        b'{"worker_id":"w","prompt":1e400}',
        b'{"worker_id":"w","feedback_rating":1e400}',
        b'{"worker_id":"w","prompt":"p","prompt":"q"}',
        b"null",
        b"[]",
        b"",
        b'{"worker_id":NaN}',
    ],
)
def test_the_fast_json_path_decodes_as_the_lenient_one(raw: bytes) -> None:
    def lenient() -> object:
        try:
            return fill(EXECUTE_FIELDS, first_value(raw))
        except GoDecodeError:
            return GoDecodeError

    def fast() -> object:
        try:
            return decode(raw, EXECUTE_FIELDS)
        except GoDecodeError:
            return GoDecodeError

    assert repr(fast()) == repr(lenient())
