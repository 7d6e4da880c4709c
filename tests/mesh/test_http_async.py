"""``POST /api/execute/async``: commit before 202, signed webhooks, the SSRF guard, the cap."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentfm_nb.mesh.webhooks import WebhookRefused, WebhookSender, parse_target
from tests.mesh._http_support import (
    GATED_AGENT,
    await_until,
    command_worker,
    echo_worker,
    serve_inprocess,
    wait_until,
)

SECRET = "webhook-secret-for-tests"


class Listener:
    """A real HTTP server on loopback that records what it is sent."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                outer.received.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(200_000))
                self.end_headers()
                self.wfile.write(b"x" * 200_000)  # more than the gateway will read

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def _peer(url: str, name: str) -> str:
    agents = httpx.get(f"{url}/api/workers").json()["agents"]
    return str(next(a["peer_id"] for a in agents if a["name"] == name))


def test_signed_webhook_reaches_a_real_listener(start_gateway: Any, listener: Listener) -> None:
    gw = start_gateway(env={"AGENTFM_WEBHOOK_SECRET": SECRET, "AGENTFM_WEBHOOK_ALLOW_PRIVATE": "1"})
    peer = _peer(gw.url, "Scribe")
    r = httpx.post(
        f"{gw.url}/api/execute/async",
        json={"worker_id": peer, "prompt": "async report", "webhook_url": listener.url()},
    )
    assert r.status_code == 202
    ack = r.json()
    assert re.fullmatch(r"task_[0-9a-f]{16,}", ack["task_id"])
    assert ack["status"] == "queued"
    assert ack["message"] == "Task dispatched to P2P mesh."
    assert wait_until(lambda: bool(listener.received), timeout=60), gw.log_tail(20)
    path, headers, body = listener.received[0]
    assert path == "/hook"
    assert json.loads(body) == {"task_id": ack["task_id"], "worker_id": peer, "status": "completed"}
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-agentfm-signature"], expected)
    assert headers["content-type"] == "application/json"
    # the artifact is on disk before the webhook fires
    assert (Path(gw.artifacts_dir) / f"{ack['task_id']}.zip").is_file()


def test_unsigned_when_no_secret_and_redirects_not_followed(start_gateway: Any) -> None:
    lst = Listener(status=302, location="/elsewhere")
    try:
        gw = start_gateway(
            env={"AGENTFM_WEBHOOK_ALLOW_PRIVATE": "1", "AGENTFM_NB_ASYNC_ARTIFACT_WAIT_S": "0"}
        )
        peer = _peer(gw.url, "Echo")
        r = httpx.post(
            f"{gw.url}/api/execute/async",
            json={"worker_id": peer, "prompt": "x", "webhook_url": lst.url()},
        )
        assert r.status_code == 202
        assert wait_until(lambda: bool(lst.received), timeout=30)
        # the gateway is still healthy after a redirecting, over-long webhook answer
        assert httpx.get(f"{gw.url}/health").status_code == 200
        assert len(lst.received) == 1
        assert "x-agentfm-signature" not in lst.received[0][1]
    finally:
        lst.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.7/hook",
        "http://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.1.1/hook",
        "http://localhost:9/hook",  # a name: refused after DNS resolution
        "ftp://example.com/hook",
        "http:///nohost",
        "http://user:pw@example.com/hook",
    ],
)
async def test_ssrf_guard_refuses(url: str) -> None:
    """Checked at delivery only (the submit answers 202, see tests/conformance row 47)."""
    sender = WebhookSender(secret=None, allow_private=False)
    try:
        with pytest.raises(WebhookRefused):
            await sender.check(url)
    finally:
        await sender.aclose()


async def test_guard_rechecks_after_dns_at_send_time(listener: Listener) -> None:
    sender = WebhookSender(secret=None, allow_private=False)
    try:
        target = parse_target(f"http://localhost:{listener.port}/hook")
        with pytest.raises(WebhookRefused):
            await sender.check(target.url)
        # even a target that slipped past submit is re-resolved and refused before the POST
        assert await sender.post(target, {"task_id": "t"}) is None
        assert listener.received == []
        allowed = WebhookSender(secret=SECRET, allow_private=True)
        assert await allowed.post(target, {"task_id": "t"}) == 200
        await allowed.aclose()
        assert len(listener.received) == 1
        assert listener.received[0][1]["host"] == f"localhost:{listener.port}"
    finally:
        await sender.aclose()


async def test_async_cap_and_commit_before_202(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    gated = command_worker(tmp_path, "Gated", GATED_AGENT, max_tasks=4, env={"GATE_DIR": str(gate)})
    async with (
        serve_inprocess(
            tmp_path, [gated, echo_worker()], async_cap=1, async_artifact_wait_s=0
        ) as served,
        httpx.AsyncClient(base_url=served.url) as client,
    ):
        peer = served.peer("Gated")
        r = await client.post("/api/execute/async", json={"worker_id": peer, "prompt": "a"})
        assert r.status_code == 202
        # committed before the 202: the slot is already taken
        snap = served.mesh.lookup(peer)
        assert snap is not None and snap.current_tasks == 1
        r = await client.post("/api/execute/async", json={"worker_id": peer, "prompt": "b"})
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.json()["error"]["code"] == "async_capacity_exhausted"
        assert r.json()["error"]["type"] == "server_error"
        (gate / "release").write_text("go")

        def slot_free() -> bool:
            snap = served.mesh.lookup(peer)
            return snap is not None and snap.current_tasks == 0

        assert await await_until(slot_free)
        assert await await_until(lambda: not served.app.state.gateway.background)
        r = await client.post("/api/execute/async", json={"worker_id": peer, "prompt": "c"})
        assert r.status_code == 202
