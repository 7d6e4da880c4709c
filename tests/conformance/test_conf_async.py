"""Rows 42-51: ``POST /api/execute/async`` and its webhook (``boss/api_async.go``,
``boss/webhook.go``).

The webhook cases share one batch: every task is submitted at once and the tests read what the
receiver recorded, so the real ~10 s artifact wait is paid once for the module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agentfm_nb.gateway import LocalMeshGateway
from tests.conformance.conftest import (
    WEBHOOK_SECRET,
    Conformance,
    Receiver,
    metric,
    start_demo,
)

TEXT = "text/plain; charset=utf-8"


@dataclass
class Batch:
    receiver: Receiver
    submitted: dict[str, tuple[str, float]]  # case -> (task_id, submit time)
    hits: dict[str, tuple[bytes, dict[str, str], float]]  # task_id -> hit
    held: str  # what the task holding Gate's slot wrote


@pytest.fixture(scope="module")
def batch(conf: Conformance) -> Iterator[Batch]:
    receiver = Receiver()
    gate = conf.gate()
    submitted: dict[str, tuple[str, float]] = {}
    try:
        with httpx.Client(base_url=conf.url, timeout=60) as c:
            held = {"worker_id": conf.peers["Gate"], "prompt": str(gate)}
            with c.stream("POST", "/api/execute", json=held) as running:
                lines = running.iter_lines()
                assert next(lines) == "started"  # Gate is now full
                gate_row = [
                    a for a in c.get("/api/workers").json()["agents"] if a["name"] == "Gate"
                ]
                assert gate_row[0]["current_tasks"] == 1
                for case, name in (
                    ("busy", "Gate"),
                    ("fail", "Fail"),
                    ("echo", "Echo"),
                    ("maker", "Maker"),
                ):
                    body = {
                        "worker_id": conf.peers[name],
                        "prompt": "p",
                        "webhook_url": receiver.url,
                    }
                    r = c.post("/api/execute/async", json=body)
                    assert r.status_code == 202, r.text
                    submitted[case] = (r.json()["task_id"], time.monotonic())
                hits = receiver.wait_for(len(submitted), timeout=60)
                gate.touch()
                held_rest = "\n".join(lines)
        by_task = {json.loads(body)["task_id"]: (body, h, t) for body, h, t in hits}
        yield Batch(receiver, submitted, by_task, held_rest)
    finally:
        gate.touch()
        receiver.close()


def _plain(r: httpx.Response, status: int, text: str) -> None:
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"] == TEXT


def test_row42_validation_order(client: httpx.Client, conf: Conformance) -> None:
    """api_async.go:asyncExecuteHandler: JSON -> worker_id -> prompt -> lookup (404) ->
    peer.Decode -> trust gate -> async slot (503) -> 202."""
    post = client.post
    _plain(post("/api/execute/async", content=b"[1]"), 400, "Invalid JSON payload\n")
    _plain(post("/api/execute/async", json={"prompt": "x"}), 400, "worker_id is required\n")
    _plain(post("/api/execute/async", json={"worker_id": "zz"}), 400, "prompt is required\n")
    body = {"worker_id": conf.peers["Ghost"], "prompt": "x"}
    _plain(post("/api/execute/async", json=body), 404, "Worker not found or offline\n")


def test_row43_malformed_worker_id(client: httpx.Client) -> None:
    """api_async.go:asyncExecuteHandler: the table lookup comes first, so a malformed id is 404."""
    body = {"worker_id": "not a peer id!", "prompt": "x"}
    _plain(client.post("/api/execute/async", json=body), 404, "Worker not found or offline\n")


def test_row44_accepted_body(client: httpx.Client, conf: Conformance) -> None:
    """api_async.go:asyncExecuteHandler: 202 {message, status queued, task_id} (a Go map:
    sorted keys, encoder newline); the id is minted as task_ + 24 hex."""
    r = client.post("/api/execute/async", json={"worker_id": conf.peers["Echo"], "prompt": "x"})
    assert r.status_code == 202
    task_id = r.json()["task_id"]
    assert re.fullmatch(r"task_[0-9a-f]{24}", task_id)
    head = '{"message":"Task dispatched to P2P mesh.","status":"queued","task_id":'
    assert r.text == f'{head}"{task_id}"}}\n'


@pytest.fixture(scope="module")
def small_async(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMeshGateway]:
    """A demo gateway whose async tasks hold their slot for a minute (artifact wait)."""
    root = tmp_path_factory.mktemp("async-cap")
    gw = start_demo(root, AGENTFM_NB_ASYNC_ARTIFACT_WAIT_S="60")
    try:
        yield gw
    finally:
        gw.stop()


def test_row45_async_cap(small_async: LocalMeshGateway) -> None:
    """api_async.go:asyncExecuteHandler: 256 tasks in flight, then 503 envelope
    async_capacity_exhausted, server_error, Retry-After 5."""
    with httpx.Client(base_url=small_async.url, timeout=60) as c:
        peer = c.get("/api/workers").json()["agents"][0]["peer_id"]
        body = {"worker_id": peer, "prompt": "x"}
        codes = [c.post("/api/execute/async", json=body).status_code for _ in range(256)]
        assert codes == [202] * 256
        r = c.post("/api/execute/async", json=body)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.json() == {
        "error": {
            "message": "too many async tasks in flight; retry shortly",
            "type": "server_error",
            "code": "async_capacity_exhausted",
        }
    }


def test_row46_busy_worker_accepted(batch: Batch, conf: Conformance) -> None:
    """api_async.go:asyncExecuteHandler: the boss does not check capacity: 202, the worker
    rejects in the background, and the stream still ends cleanly (webhook `completed`)."""
    task_id, _ = batch.submitted["busy"]
    assert task_id in batch.hits, (batch.held, conf.gw.log_tail(40))
    body, _, _ = batch.hits[task_id]
    assert json.loads(body)["status"] == "completed"


@pytest.fixture(scope="module")
def strict_hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMeshGateway]:
    """A demo gateway whose private-address opt-in is spelled `true` (not the real `1`)."""
    root = tmp_path_factory.mktemp("strict-hooks")
    gw = start_demo(
        root, AGENTFM_WEBHOOK_ALLOW_PRIVATE="true", AGENTFM_NB_ASYNC_ARTIFACT_WAIT_S="0"
    )
    try:
        yield gw
    finally:
        gw.stop()


def _wait_log(gw: LocalMeshGateway, needle: str, count: int) -> str:
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline:
        assert gw.log_path is not None
        text = Path(gw.log_path).read_text(errors="replace")
        if text.count(needle) >= count:
            break
        time.sleep(0.05)
    return text


def test_row47_webhook_url_checked_at_delivery(strict_hooks: LocalMeshGateway) -> None:
    """api_async.go:runAsyncTask: the URL is validated only at delivery; a bad scheme, a
    garbage URL or a loopback target is accepted (202) and then silently not posted."""
    receiver = Receiver()
    try:
        with httpx.Client(base_url=strict_hooks.url, timeout=60) as c:
            peer = c.get("/api/workers").json()["agents"][0]["peer_id"]
            for url in ("ftp://example.com/x", "not a url", receiver.url):
                body = {"worker_id": peer, "prompt": "x", "webhook_url": url}
                assert c.post("/api/execute/async", json=body).status_code == 202
        log = _wait_log(strict_hooks, "refused", 3)
        assert log.count("refused") >= 3
        assert receiver.hits == []
    finally:
        receiver.close()


def test_row48_ssrf_rule(strict_hooks: LocalMeshGateway) -> None:
    """webhook.go:validateWebhookURL (stricter here, docs/compatibility.md): loopback refused
    unless AGENTFM_WEBHOOK_ALLOW_PRIVATE == "1" exactly ("true" is no opt-in); CGNAT and
    URLs with credentials refused too."""
    with httpx.Client(base_url=strict_hooks.url, timeout=60) as c:
        peer = c.get("/api/workers").json()["agents"][0]["peer_id"]
        before = _wait_log(strict_hooks, "", 0).count("refused")
        for url in ("http://100.64.0.1/hook", "http://user:pw@example.com/hook"):
            body = {"worker_id": peer, "prompt": "x", "webhook_url": url}
            assert c.post("/api/execute/async", json=body).status_code == 202
    log = _wait_log(strict_hooks, "refused", before + 2)
    assert log.count("refused") >= before + 2
    assert "pw@" not in log


def test_row49_webhook_body_completed_after_clean_end(batch: Batch, conf: Conformance) -> None:
    """api_async.go:runAsyncTask: `{"status":"completed","task_id","worker_id"}` after any
    clean stream end, the agent's non-zero exit included."""
    task_id, _ = batch.submitted["fail"]
    body, _, _ = batch.hits[task_id]
    expected = {"status": "completed", "task_id": task_id, "worker_id": conf.peers["Fail"]}
    assert body == json.dumps(expected, separators=(",", ":")).encode()


def test_row50_webhook_waits_for_artifact(batch: Batch, conf: Conformance) -> None:
    """api_async.go:waitForArtifact: up to 10 s for the zip before the webhook; a task with
    no artifact is notified only after the full wait, one with a zip once it is there."""
    task_id, submitted = batch.submitted["echo"]
    _, _, arrived = batch.hits[task_id]
    assert arrived - submitted >= 9.5  # the echo itself ends at once
    maker_id, _ = batch.submitted["maker"]
    assert maker_id in batch.hits
    assert (conf.gw.artifacts_dir / f"{maker_id}.zip").exists()


def test_row51_webhook_http(batch: Batch) -> None:
    """webhook.go:signWebhookBody / api_async.go:runAsyncTask: POST, application/json,
    X-AgentFM-Signature = hex HMAC-SHA256 of the raw body with AGENTFM_WEBHOOK_SECRET."""
    for body, headers, _ in batch.hits.values():
        assert headers["content-type"] == "application/json"
        digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-agentfm-signature"] == digest


def test_async_tasks_counted(batch: Batch, conf: Conformance) -> None:
    """api_async.go:runAsyncTask: each async task is counted (ok after a clean stream end)."""
    scrape = httpx.get(f"{conf.url}/metrics").text
    assert metric(scrape, 'agentfm_tasks_total{status="ok"}') >= len(batch.submitted)
