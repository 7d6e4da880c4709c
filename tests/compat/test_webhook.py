"""``WebhookReceiver``: the same answer as the SDK's receiver for the same request."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agentfm.webhook import WebhookReceiver as SdkReceiver

from agentfm_nb import WebhookPayload, WebhookReceiver
from agentfm_nb.client.webhook import SIGNATURE_HEADER, sign

SECRET = "compat-webhook-secret"
GOOD = json.dumps({"task_id": "t1", "worker_id": "12D3KooWW", "status": "completed"}).encode()
JSON = {"Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=[None, SECRET], ids=["unsigned", "signed"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any, list[Any], list[Any]]]:
    ours_got: list[Any] = []
    sdk_got: list[Any] = []
    secret = request.param
    ours = WebhookReceiver(port=_free_port(), callback=ours_got.append, secret=secret)
    theirs = SdkReceiver(port=_free_port(), callback=sdk_got.append, secret=secret)
    with ours, theirs:
        yield ours, theirs, ours_got, sdk_got


def _requests(secret: str | None) -> list[tuple[str, str, bytes, dict[str, str]]]:
    sig = {SIGNATURE_HEADER: sign(secret, GOOD)} if secret else {}
    return [
        ("good", "/cb", GOOD, {**JSON, **sig}),
        ("no content type", "/cb", GOOD, sig),
        ("wrong path", "/other", GOOD, {**JSON, **sig}),
        ("text/plain", "/cb", GOOD, {"Content-Type": "text/plain", **sig}),
        ("not json", "/cb", b"{nope", JSON),
        ("missing fields", "/cb", b'{"task_id": "t"}', JSON),
        ("not an object", "/cb", b"[1, 2]", JSON),
        ("too big", "/cb", b'{"task_id": "' + b"x" * 70_000 + b'"}', JSON),
        ("forged", "/cb", GOOD, {**JSON, SIGNATURE_HEADER: "0" * 64}),
        ("empty", "/cb", b"", JSON),
    ]


def test_same_status_codes_as_the_sdk(pair: Any, request: pytest.FixtureRequest) -> None:
    ours, theirs, ours_got, sdk_got = pair
    secret = request.node.callspec.params["pair"]
    for label, path, body, headers in _requests(secret):
        ours_status = httpx.post(
            f"http://127.0.0.1:{ours.port}{path}", content=body, headers=headers
        ).status_code
        sdk_status = httpx.post(
            f"http://127.0.0.1:{theirs.port}{path}", content=body, headers=headers
        ).status_code
        assert ours_status == sdk_status, label
    assert len(ours_got) == len(sdk_got) >= 2
    assert str(ours_got[0]) == str(sdk_got[0])
    assert ours_got[0].model_dump() == sdk_got[0].model_dump()


def test_payload_keeps_unknown_fields() -> None:
    p = WebhookPayload.model_validate(
        {"task_id": "t", "worker_id": "w", "status": "failed", "error": "boom"}
    )
    assert p.extra == {"error": "boom"} and p.model_dump()["error"] == "boom"


def test_callback_error_is_a_500_and_the_server_lives_on() -> None:
    def explode(_: WebhookPayload) -> None:
        raise RuntimeError("user bug")

    with WebhookReceiver(port=0, callback=explode) as rx:
        assert httpx.post(rx.url, content=GOOD, headers=JSON).status_code == 500
        assert httpx.post(rx.url, content=GOOD, headers=JSON).status_code == 500


def test_serve_forever_blocks_until_stopped() -> None:
    got: list[WebhookPayload] = []
    rx = WebhookReceiver(port=_free_port(), callback=got.append)
    thread = threading.Thread(target=rx.serve_forever, daemon=True)
    thread.start()
    for _ in range(200):  # the server binds in the thread: wait until it answers
        try:
            status = httpx.post(rx.url, content=GOOD, headers=JSON).status_code
            break
        except httpx.ConnectError:
            thread.join(0.01)
    assert status == 200 and [p.task_id for p in got] == ["t1"]
    assert thread.is_alive()
    with pytest.raises(RuntimeError):
        rx.serve_forever()  # already serving
    rx.stop()
    thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.post(rx.url, content=GOOD, headers=JSON)
    rx.start()  # usable again after serve_forever ended
    try:
        assert httpx.post(rx.url, content=GOOD, headers=JSON).status_code == 200
    finally:
        rx.stop()
