"""Rows 61-75: the OpenAI-compatible routes (``boss/openai.go``, ``openai_chat.go``,
``openai_completions.go``, ``openai_models.go``), checked with raw HTTP and the real ``openai``
client."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import openai
import pytest

from tests.conformance.conftest import Conformance, metric

SANDBOX = "\u26a0\ufe0f  Sandbox exited: "


def _chat(model: str, content: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def _err(r: httpx.Response) -> tuple[int, str, str]:
    e = r.json()["error"]
    return r.status_code, e["code"], e["message"]


def _sse(r: httpx.Response) -> list[Any]:
    assert r.text.endswith("data: [DONE]\n\n")
    frames = r.text.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    return [json.loads(f.removeprefix("data: ")) for f in frames[:-2]]


def test_row61_models(client: httpx.Client, conf: Conformance) -> None:
    """openai_models.go:handleModels / openai.go:composeModelDescription: id = peer id,
    owned_by author or agentfm, created = request time, `Name · Engine — Desc` with empty parts
    dropped; online workers only."""
    before = int(time.time())
    body = client.get("/v1/models").json()
    after = int(time.time())
    assert body["object"] == "list"
    models = {m["agentfm_name"]: m for m in body["data"]}
    assert set(models) == set(conf.peers) - {"Ghost"}
    assert all(before <= m["created"] <= after for m in models.values())
    assert models["Lines"]["id"] == conf.peers["Lines"]
    assert models["Lines"]["description"] == "Lines · conf — Lines agent"
    assert models["Echo"]["description"] == "Echo · echo"
    assert models["Gate"]["owned_by"] == "agentfm"
    assert models["Lines"]["owned_by"] == "agentfm-nb"
    assert models["Lines"]["object"] == "model"


def test_row62_chat_validation(client: httpx.Client) -> None:
    """openai_chat.go:handleChatCompletions: JSON (content must be a string) -> TrimSpace(model)
    -> at least one message -> route; messages with empty content are still dispatched."""
    parts = [{"type": "text", "text": "hi"}]
    r = client.post("/v1/chat/completions", json=_chat("Echo", parts))
    assert _err(r) == (400, "invalid_request_error", "invalid JSON payload")
    r = client.post("/v1/chat/completions", json=_chat("   "))
    assert _err(r) == (400, "model_required", "field 'model' is required")
    r = client.post("/v1/chat/completions", json={"model": "Echo", "messages": []})
    assert _err(r) == (
        400,
        "prompt_required",
        "field 'messages' must contain at least one message",
    )
    r = client.post("/v1/chat/completions", json=_chat("Echo", ""))
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "assistant:\n\n"


def test_row63_error_codes(client: httpx.Client, conf: Conformance) -> None:
    """openai.go:writeOpenAIError / writeOpenAIWorkerError: invalid JSON (any type error, or a
    body cut at 1 MiB) -> invalid_request_error; unknown model 404; full tier 503."""
    url = "/v1/chat/completions"
    for body in (b"{", b'{"model": 1}', b'{"model":"Echo","stream":"yes"}', b"[]"):
        r = client.post(url, content=body)
        assert _err(r)[:2] == (400, "invalid_request_error")
        assert r.json()["error"]["type"] == "invalid_request_error"
    huge = json.dumps(_chat("Echo", "x" * (1 << 20))).encode()
    assert _err(client.post(url, content=huge))[:2] == (400, "invalid_request_error")
    r = client.post(url, json=_chat("no-such-model"))
    assert _err(r)[:2] == (404, "model_not_found")
    gate = conf.gate()
    held = {"worker_id": conf.peers["Gate"], "prompt": str(gate)}
    with client.stream("POST", "/api/execute", json=held) as running:
        lines = running.iter_lines()
        assert next(lines) == "started"
        r = client.post(url, json=_chat("Gate"))
        gate.touch()
        list(lines)
    assert _err(r)[:2] == (503, "mesh_overloaded")
    assert r.json()["error"]["type"] == "server_error"


def test_row64_error_messages(client: httpx.Client) -> None:
    """openai.go:writeOpenAIWorkerError: the real wording."""
    r = client.post("/v1/chat/completions", json=_chat("nope"))
    assert r.json()["error"]["message"].startswith(
        "model 'nope' not available on this mesh. /v1/models lists addressable peer IDs;"
    )
    r = client.post("/v1/completions", json={"prompt": "x"})
    assert _err(r) == (400, "model_required", "field 'model' is required")


@pytest.mark.parametrize(
    ("prompt", "code", "message"),
    [
        (None, "prompt_required", "field 'prompt' is required"),
        ("   ", "prompt_required", "field 'prompt' must not be empty"),
        (
            ["a", "b"],
            "unsupported_prompt_type",
            "array form of 'prompt' is not supported in this build; pass a single string",
        ),
        (7, "unsupported_prompt_type", "field 'prompt' must be a string"),
        ({"a": 1}, "unsupported_prompt_type", "field 'prompt' must be a string"),
    ],
)
def test_row65_completion_prompt(
    client: httpx.Client, prompt: Any, code: str, message: str
) -> None:
    """openai_completions.go:promptString."""
    r = client.post("/v1/completions", json={"model": "Echo", "prompt": prompt})
    assert _err(r) == (400, code, message)


def test_row66_prompt_rendering(client: httpx.Client) -> None:
    """openai.go:renderChatPrompt: `role: content\\n\\n` per non-empty message (role default
    user), then `assistant:`."""
    messages = [
        {"role": "system", "content": "S"},
        {"content": "U"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": None},
    ]
    r = client.post("/v1/chat/completions", json={"model": "Echo", "messages": messages})
    assert r.json()["choices"][0]["message"]["content"] == (
        "system: S\n\nuser: U\n\nassistant:\n\n"
    )


def test_row67_routing(client: httpx.Client, conf: Conformance) -> None:
    """openai.go:selectWorkerForModel: TrimSpace, then peer id -> AgentName -> engine
    (case-insensitive); unknown -> 404."""
    for model, name in (
        (f"  {conf.peers['Lines']} ", "Lines"),
        ("LINES", "Lines"),
        (" gated ", "Gate"),
    ):
        with client.stream("POST", "/v1/chat/completions", json=_chat(model, stream=True)) as r:
            first = next(r.iter_lines())  # the role chunk names the worker; then hang up
        assert json.loads(first.removeprefix("data: "))["agentfm_peer_id"] == conf.peers[name]
    assert client.post("/v1/completions", json={"model": "nah", "prompt": "x"}).status_code == 404


def test_row68_agent_failure_in_band(client: httpx.Client, conf: Conformance) -> None:
    """openai_chat.go:handleChatCompletions: a failing agent is a 200 answer whose text is its
    stderr and `⚠️  Sandbox exited`, finish_reason stop; streams end with stop and [DONE]."""
    failed = f"boom\n{SANDBOX}exit status 3\n\n"
    r = client.post("/v1/chat/completions", json=_chat("Fail"))
    assert r.status_code == 200
    choice = r.json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == (failed, "stop")
    frames = _sse(client.post("/v1/chat/completions", json=_chat("Fail", stream=True)))
    assert "".join(f["choices"][0]["delta"]["content"] for f in frames) == failed
    assert frames[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("error" not in f for f in frames)
    r = client.post("/v1/completions", json={"model": "Fail", "prompt": "x"})
    assert (r.status_code, r.json()["choices"][0]["text"]) == (200, failed)


def test_row68_openai_client_sends_one_request(conf: Conformance) -> None:
    """openai_chat.go:handleChatCompletions: with the failure in-band (no 5xx) the official
    `openai` client, retries on, makes exactly one request and does not raise."""
    sent: list[httpx.Request] = []
    with httpx.Client(event_hooks={"request": [sent.append]}, timeout=60) as http:
        oai = openai.OpenAI(
            base_url=f"{conf.url}/v1", api_key="unused", max_retries=3, http_client=http
        )
        reply = oai.chat.completions.create(
            model="Fail", messages=[{"role": "user", "content": "x"}]
        )
        assert len(sent) == 1
        assert reply.choices[0].finish_reason == "stop"
        assert "Sandbox exited: exit status 3" in (reply.choices[0].message.content or "")
        stream = oai.chat.completions.create(
            model="Fail", messages=[{"role": "user", "content": "x"}], stream=True
        )
        finishes = [c.choices[0].finish_reason for c in stream if c.choices]
        assert len(sent) == 2
        assert finishes[-1] == "stop"


@pytest.mark.parametrize(
    ("name", "content"), [("Lines", "hello\nworld\n\n"), ("Partial", "partial\n")]
)
def test_row69_content_bytes(client: httpx.Client, name: str, content: str) -> None:
    """openai.go:sentinelFilterReader: each non-sentinel line of the stream plus `\\n` (the
    blank line before the sentinel included)."""
    r = client.post("/v1/chat/completions", json=_chat(name))
    assert r.json()["choices"][0]["message"]["content"] == content
    r = client.post("/v1/completions", json={"model": name, "prompt": "x"})
    assert r.json()["choices"][0]["text"] == content


def test_row70_chat_chunk_shape(client: httpx.Client, conf: Conformance) -> None:
    """openai_chat.go:streamChatCompletion: a role chunk, one chunk per line (delta always
    {role, content}), a last empty delta with stop; agentfm_peer_id / agentfm_task_id."""
    frames = _sse(client.post("/v1/chat/completions", json=_chat("Lines", stream=True)))
    for f in frames:
        assert list(f) == [
            "id",
            "object",
            "created",
            "model",
            "choices",
            "agentfm_peer_id",
            "agentfm_task_id",
        ]
        assert list(f["choices"][0]) == ["index", "delta", "finish_reason"]
        assert f["object"] == "chat.completion.chunk"
        assert f["agentfm_peer_id"] == conf.peers["Lines"]
        assert re.fullmatch(r"task_[0-9a-f]{24}", f["agentfm_task_id"])
    deltas = [(f["choices"][0]["delta"], f["choices"][0]["finish_reason"]) for f in frames]
    assert deltas == [
        ({"role": "assistant", "content": ""}, None),
        ({"role": "", "content": "hello\n"}, None),
        ({"role": "", "content": "world\n"}, None),
        ({"role": "", "content": "\n"}, None),
        ({"role": "", "content": ""}, "stop"),
    ]
    assert len({f["id"] for f in frames}) == 1


def test_row71_text_completion_chunk(client: httpx.Client) -> None:
    """openai_completions.go:streamTextCompletion: no role chunk, no agentfm fields, a last
    empty text with stop."""
    body = {"model": "Partial", "prompt": "x", "stream": True}
    frames = _sse(client.post("/v1/completions", json=body))
    for f in frames:
        assert list(f) == ["id", "object", "created", "model", "choices"]
        assert list(f["choices"][0]) == ["index", "text", "finish_reason"]
        assert f["object"] == "text_completion"
    texts = [(f["choices"][0]["text"], f["choices"][0]["finish_reason"]) for f in frames]
    assert texts == [("partial\n", None), ("", "stop")]


def test_row72_non_stream_response(client: httpx.Client) -> None:
    """openai_chat.go / openai_completions.go: usage zeros, ids chatcmpl-/cmpl- + 24 hex, no
    agentfm fields."""
    chat = client.post("/v1/chat/completions", json=_chat("Echo")).json()
    assert list(chat) == ["id", "object", "created", "model", "choices", "usage"]
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{24}", chat["id"])
    assert chat["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert list(chat["choices"][0]) == ["index", "message", "finish_reason"]
    text = client.post("/v1/completions", json={"model": "Echo", "prompt": "x"}).json()
    assert list(text) == ["id", "object", "created", "model", "choices", "usage"]
    assert re.fullmatch(r"cmpl-[0-9a-f]{24}", text["id"])
    assert list(text["choices"][0]) == ["index", "text", "finish_reason"]


def test_row73_sse_headers(client: httpx.Client) -> None:
    """openai.go:setSSEHeaders (and the integration test): `text/event-stream` exactly."""
    r = client.post("/v1/chat/completions", json=_chat("Echo", stream=True))
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-accel-buffering"] == "no"


def test_row74_line_cap(client: httpx.Client) -> None:
    """openai.go:maxLineBytes: a line over 8 MiB is a scanner error: a last chunk carrying
    `[stream error: ...]` with stop when streaming, 502 worker_stream_failed when buffered."""
    frames = _sse(client.post("/v1/chat/completions", json=_chat("Long", stream=True)))
    last = frames[-1]["choices"][0]
    assert last["delta"]["content"] == "\n[stream error: bufio.Scanner: token too long]\n"
    assert last["finish_reason"] == "stop"
    r = client.post("/v1/completions", json={"model": "Long", "prompt": "x"})
    assert _err(r) == (
        502,
        "worker_stream_failed",
        "worker stream read failed: bufio.Scanner: token too long",
    )


def test_row75_no_server_model_warning(client: httpx.Client) -> None:
    """openai.go (no warning server-side): model ids are libp2p Ed25519 ids, `12D3KooW…`."""
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids and all(i.startswith("12D3KooW") for i in ids)
    r = client.post("/v1/chat/completions", json=_chat("Echo"))
    assert "warning" not in r.headers


def test_openai_counting(client: httpx.Client) -> None:
    """openai_chat.go counts chat tasks; openai_completions.go does not count completions."""
    scrape = client.get("/metrics").text
    ok = metric(scrape, 'agentfm_tasks_total{status="ok"}')
    client.post("/v1/completions", json={"model": "Echo", "prompt": "x"})
    assert metric(client.get("/metrics").text, 'agentfm_tasks_total{status="ok"}') == ok
    client.post("/v1/chat/completions", json=_chat("Echo"))
    assert metric(client.get("/metrics").text, 'agentfm_tasks_total{status="ok"}') == ok + 1
