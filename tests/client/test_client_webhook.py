"""WebhookReceiver: forged and malformed callbacks refused; signed ones end to end."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from agentfm_nb import AgentFMClient, WebhookPayload, WebhookReceiver
from agentfm_nb.client.webhook import SIGNATURE_HEADER, sign

SECRET = "shared-webhook-secret-for-tests"


@pytest.fixture
def receiver() -> Any:
    calls: list[WebhookPayload] = []
    with WebhookReceiver(port=0, callback=calls.append, secret=SECRET) as rx:
        yield rx, calls


def test_forged_and_malformed_refused(receiver: Any) -> None:
    rx, calls = receiver
    body = json.dumps({"task_id": "t", "worker_id": "w", "status": "completed"}).encode()
    headers = {"Content-Type": "application/json"}
    assert httpx.post(rx.url, content=body, headers=headers).status_code == 401
    forged = {**headers, SIGNATURE_HEADER: sign("not-the-secret", body)}
    assert httpx.post(rx.url, content=body, headers=forged).status_code == 401
    good = {**headers, SIGNATURE_HEADER: sign(SECRET, body)}
    plain = {"Content-Type": "text/plain", SIGNATURE_HEADER: sign(SECRET, body)}
    assert httpx.post(rx.url, content=body, headers=plain).status_code == 415
    big = json.dumps({"task_id": "t", "pad": "x" * 70_000}).encode()
    big_headers = {**headers, SIGNATURE_HEADER: sign(SECRET, big)}
    assert httpx.post(rx.url, content=big, headers=big_headers).status_code == 413
    assert httpx.post(rx.url + "x", content=body, headers=good).status_code == 404
    assert calls == []
    assert httpx.post(rx.url, content=body, headers=good).status_code == 200
    assert [c.task_id for c in calls] == ["t"]
    assert SECRET not in repr(rx)


def test_signed_webhook_end_to_end(start_gateway: Any) -> None:
    gw = start_gateway(env={"AGENTFM_WEBHOOK_SECRET": SECRET, "AGENTFM_WEBHOOK_ALLOW_PRIVATE": "1"})
    got = threading.Event()
    calls: list[WebhookPayload] = []

    def on_done(p: WebhookPayload) -> None:
        calls.append(p)
        got.set()

    with (
        WebhookReceiver(port=0, callback=on_done, secret=SECRET) as rx,
        AgentFMClient(gw.url, api_key=None) as c,
    ):
        echo = c.workers.list(agent_name="Echo")[0]
        ack = c.tasks.submit_async(worker_id=echo.peer_id, prompt="hook", webhook_url=rx.url)
        assert got.wait(20)
    assert calls[0].task_id == ack.task_id
    assert calls[0].worker_id == echo.peer_id and calls[0].status == "completed"
    assert rx.rejected == 0
