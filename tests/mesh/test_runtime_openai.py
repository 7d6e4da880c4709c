"""``kind = "openai"`` against a real OpenAI-compatible upstream served by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from _runtime_support import peer, running_mesh
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agentfm_nb.mesh.config import WorkerSpec
from agentfm_nb.mesh.taskrun import SANDBOX_EXITED as SANDBOX

SEEN: list[dict[str, Any]] = []
GATE: dict[str, asyncio.Event] = {}


async def chat(request: Request) -> Response:
    body = await request.json()
    SEEN.append({"body": body, "auth": request.headers.get("authorization")})
    model = body["model"]
    if model == "broken":
        return JSONResponse({"error": {"message": "model exploded"}}, status_code=500)
    text = "Hello from upstream.\nSecond line, split across deltas.\nno newline at end"
    if model == "plainjson":
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": text}}]})

    async def frames() -> AsyncIterator[bytes]:
        first = {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}
        yield f"data: {json.dumps(first)}\n\n".encode()
        if model == "gated":
            yield b'data: {"choices":[{"index":0,"delta":{"content":"early\\n"}}]}\n\n'
            await GATE["go"].wait()
        for i in range(0, len(text), 7):  # deltas cut mid-line, like token streams
            chunk = {"choices": [{"index": 0, "delta": {"content": text[i : i + 7]}}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()

    return StreamingResponse(frames(), media_type="text/event-stream")


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    SEEN.clear()
    GATE["go"] = asyncio.Event()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task
        sock.close()


def _llm(base_url: str, model: str, **kw: Any) -> WorkerSpec:
    return WorkerSpec(
        name=f"LLM {model}", engine=model, kind="openai", base_url=base_url, model=model, **kw
    )


async def test_streams_upstream_deltas_as_lines(
    tmp_path: Path, upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_UPSTREAM_KEY", "sk-upstream-secret")
    spec = _llm(upstream, "qwen2.5", api_key_env="TEST_UPSTREAM_KEY")
    async with running_mesh(tmp_path, spec) as mesh:
        async with mesh.open_task(peer(mesh, "LLM qwen2.5"), "say hello", "up1") as run:
            lines = [line async for line in run.lines()]
        assert run.status == "ok", run.error
    assert lines == [
        "Hello from upstream.",
        "Second line, split across deltas.",
        "no newline at end",
    ]
    sent = SEEN[-1]
    assert sent["auth"] == "Bearer sk-upstream-secret"
    assert sent["body"] == {
        "model": "qwen2.5",
        "messages": [{"role": "user", "content": "say hello"}],
        "stream": True,
    }
    assert "sk-upstream-secret" not in repr(mesh.config) + repr(spec)


async def test_lines_arrive_while_upstream_still_streams(tmp_path: Path, upstream: str) -> None:
    async with running_mesh(tmp_path, _llm(upstream, "gated")) as mesh:
        async with mesh.open_task(peer(mesh, "LLM gated"), "x", "up2") as run:
            it = run.lines()
            assert await asyncio.wait_for(it.__anext__(), 10) == "early"
            GATE["go"].set()
            rest = [line async for line in it]
        assert rest[0] == "Hello from upstream." and run.status == "ok"
    assert SEEN[-1]["auth"] is None  # no api_key_env: no Authorization header


async def test_upstream_http_error_is_a_task_error(tmp_path: Path, upstream: str) -> None:
    async with running_mesh(tmp_path, _llm(upstream, "broken")) as mesh:
        async with mesh.open_task(peer(mesh, "LLM broken"), "x", "up3") as run:
            lines = [line async for line in run.lines()]
        assert lines[-1] == SANDBOX + "exit status 1" and "model exploded" in lines[0]
        assert run.status == "error"
        assert "HTTP 500" in (run.error or "") and "model exploded" in (run.error or "")


async def test_non_streaming_upstream_answer(tmp_path: Path, upstream: str) -> None:
    async with running_mesh(tmp_path, _llm(upstream, "plainjson")) as mesh:
        async with mesh.open_task(peer(mesh, "LLM plainjson"), "x", "up4") as run:
            lines = [line async for line in run.lines()]
        assert run.status == "ok" and lines[0] == "Hello from upstream." and len(lines) == 3


async def test_unreachable_upstream(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    async with running_mesh(tmp_path, _llm(f"http://127.0.0.1:{port}/v1", "gone")) as mesh:
        async with mesh.open_task(peer(mesh, "LLM gone"), "x", "up5") as run:
            await run.wait()
        assert run.status == "error" and "upstream" in (run.error or "")
