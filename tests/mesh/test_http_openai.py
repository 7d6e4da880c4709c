"""OpenAI-compatible routes: models, chat and text completions, routing and error envelopes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentfm_nb.mesh.routes.openai import render_chat_prompt
from tests.mesh._http_support import (
    GATED_AGENT,
    await_until,
    command_worker,
    echo_worker,
    pid_alive,
    serve_inprocess,
)

MODEL_FIELDS = {
    "id", "object", "created", "owned_by", "description", "agentfm_name", "agentfm_engine",
    "agentfm_status", "agentfm_hardware", "agentfm_current_tasks", "agentfm_max_tasks",
    "agentfm_cpu_usage_pct", "agentfm_ram_free_gb", "agentfm_has_gpu", "agentfm_gpu_used_gb",
    "agentfm_gpu_total_gb", "agentfm_gpu_usage_pct", "agentfm_honesty_score",
    "agentfm_is_equivocator", "agentfm_dispatch_allowed", "agentfm_online",
}  # fmt: skip


def _sse(text: str) -> list[Any]:
    frames: list[Any] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        payload = block[len("data: ") :]
        frames.append(payload if payload == "[DONE]" else json.loads(payload))
    return frames


def test_render_chat_prompt() -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "", "content": "no role means user"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "last"},
    ]
    assert render_chat_prompt(messages) == (
        "system: be brief\n\nuser: no role means user\n\nuser: last\n\nassistant:"
    )


def test_models_list_every_field(gateway: Any) -> None:
    body = httpx.get(f"{gateway.url}/v1/models").json()
    assert body["object"] == "list"
    workers = httpx.get(f"{gateway.url}/api/workers").json()["agents"]
    assert [m["id"] for m in body["data"]] == [w["peer_id"] for w in workers]
    for model in body["data"]:
        assert set(model) >= MODEL_FIELDS
        assert model["object"] == "model"
    poet = next(m for m in body["data"] if m["agentfm_name"] == "Poet")
    assert poet["owned_by"] == "alice"
    assert poet["agentfm_engine"] == "llama3.2"
    assert poet["description"].startswith("Poet · llama3.2 — ")


def test_chat_non_stream_shape(gateway: Any) -> None:
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "Echo", "messages": [{"role": "user", "content": "hello"}]},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "Echo"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "user: hello\n\nassistant:\n\n"},
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_chat_stream_chunks(gateway: Any) -> None:
    r = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo", "messages": [{"content": "a\nb"}], "stream": True},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    frames = _sse(r.text)
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert contents == ["user: a\n", "b\n", "\n", "assistant:\n", "\n"]
    last = {"index": 0, "delta": {"role": "", "content": ""}, "finish_reason": "stop"}
    assert chunks[-1]["choices"][0] == last
    ids = {(c["id"], c["agentfm_peer_id"], c["agentfm_task_id"]) for c in chunks}
    assert len(ids) == 1
    (cid, peer, task), *_ = ids
    assert cid.startswith("chatcmpl-") and peer.startswith("12D3KooW") and task.startswith("task_")
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_completions_stream_and_non_stream(gateway: Any) -> None:
    r = httpx.post(
        f"{gateway.url}/v1/completions", json={"model": "Analyst", "prompt": "Hi there."}
    )
    body = r.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"].startswith("characters: 9\n")
    assert body["choices"][0]["finish_reason"] == "stop"
    r = httpx.post(
        f"{gateway.url}/v1/completions", json={"model": "echo", "prompt": "x\ny", "stream": True}
    )
    frames = _sse(r.text)
    assert frames[-1] == "[DONE]"
    texts = [f["choices"][0]["text"] for f in frames[:-1]]
    assert texts == ["x\n", "y\n", "\n", ""]
    assert frames[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(f["object"] == "text_completion" for f in frames[:-1])


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/completions", {"model": "echo", "prompt": ["a"]}, 400, "unsupported_prompt_type"),
        ("/v1/completions", {"model": "echo"}, 400, "prompt_required"),
        ("/v1/completions", {"prompt": "x"}, 400, "model_required"),
        ("/v1/chat/completions", {"messages": [{"content": "x"}]}, 400, "model_required"),
        ("/v1/chat/completions", {"model": "echo", "messages": []}, 400, "prompt_required"),
        ("/v1/chat/completions", {"model": "nope", "messages": [{"content": "x"}]}, 404,
         "model_not_found"),
        ("/v1/completions", {"model": "12D3KooWnope", "prompt": "x"}, 404, "model_not_found"),
    ],
)  # fmt: skip
def test_openai_error_envelopes(
    gateway: Any, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    r = httpx.post(gateway.url + path, json=body)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == code
    assert err["type"] == ("server_error" if status >= 500 else "invalid_request_error")
    assert err["message"]


def test_bad_json_and_body_cap(gateway: Any) -> None:
    r = httpx.post(f"{gateway.url}/v1/chat/completions", content=b"{oops")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_request_error")
    big = {"model": "echo", "prompt": "x" * (1 << 20)}
    r = httpx.post(f"{gateway.url}/v1/completions", json=big)  # cut at 1 MiB: no longer JSON
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_request_error")


async def test_routing_tiers_and_overload(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {"GATE_DIR": str(gate)}
    workers = [
        command_worker(tmp_path, "Slow A", GATED_AGENT, engine="shared", max_tasks=1, env=env),
        command_worker(tmp_path, "Slow B", GATED_AGENT, engine="shared", max_tasks=1, env=env),
        echo_worker("shared"),  # an agent *named* like the engine wins on the name tier
    ]
    async with (
        serve_inprocess(tmp_path, workers) as served,
        httpx.AsyncClient(base_url=served.url, timeout=30) as client,
    ):
        r = await client.post(
            "/v1/chat/completions",
            json={"model": "SHARED", "messages": [{"content": "n"}], "stream": True},
        )
        assert _sse(r.text)[0]["agentfm_peer_id"] == served.peer("shared")
        streams = []
        for name in ("Slow A", "Slow B"):
            # exact peer id tier, streamed so the tasks stay open
            req = client.build_request(
                "POST",
                "/v1/completions",
                json={"model": served.peer(name), "prompt": "p", "stream": True},
            )
            streams.append(await client.send(req, stream=True))
        assert all(s.status_code == 200 for s in streams)
        # name tier: the only "Slow A" is full
        r = await client.post("/v1/completions", json={"model": "slow a", "prompt": "p"})
        assert (r.status_code, r.json()["error"]["code"]) == (503, "mesh_overloaded")
        (gate / "release").write_text("go")
        for s in streams:
            text = (await s.aread()).decode()
            assert "second line" in text and text.endswith("data: [DONE]\n\n")
            await s.aclose()


async def test_non_stream_client_gone_stops_the_agent(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    worker = command_worker(tmp_path, "Slow", GATED_AGENT, env={"GATE_DIR": str(gate)})
    async with serve_inprocess(tmp_path, [worker]) as served:
        client = httpx.AsyncClient(base_url=served.url, timeout=60)
        request = asyncio.ensure_future(
            client.post("/v1/completions", json={"model": "Slow", "prompt": "p"})
        )
        assert await await_until(lambda: any(gate.glob("pid-*")))
        pid = int(next(gate.glob("pid-*")).read_text())
        request.cancel()  # the client gives up: its connection closes
        with contextlib.suppress(asyncio.CancelledError):
            await request
        await client.aclose()
        assert await await_until(lambda: not pid_alive(pid)), "agent kept running for nobody"
        snap = served.mesh.lookup(served.peer("Slow"))
        assert snap is not None
        assert await await_until(lambda: served.mesh.running_tasks == 0)
