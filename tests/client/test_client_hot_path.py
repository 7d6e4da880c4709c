"""The async ``/api/execute`` hot path (the lean HTTP/1.1 transport): same typed errors."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

import pytest
from client_fakes import FakeServer, Route

from agentfm_nb import AgentFMClient, AsyncAgentFMClient
from agentfm_nb.errors import (
    AuthenticationError,
    GatewayConnectionError,
    MeshOverloadedError,
    WorkerNotFoundError,
    WorkerStreamError,
)

KEY = "hot-path-key-that-must-not-leak-0042"
PEER = "12D3KooWQLXSUaBdL1pXAGb7hbAwwcC4FDqAHjMu2TwCQ8WWZ5rS"
SLOW_AGENT = """
import os, sys, time
prompt = os.environ.get("AGENTFM_PROMPT") or sys.stdin.read()
for i in range(400 if prompt.startswith("long") else 2):
    print("line", i, flush=True)
    time.sleep(0.05)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _leaks(err: BaseException, key: str) -> list[str]:
    found, seen, todo = [], set(), [err]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if any(key in t for t in (str(exc), repr(exc), repr(exc.args), repr(vars(exc)))):
            found.append(type(exc).__name__)
        todo += [exc.__cause__, exc.__context__]
    return found


async def test_unreachable_gateway_is_typed_and_keeps_the_key() -> None:
    async with AsyncAgentFMClient(f"http://127.0.0.1:{_free_port()}", api_key=KEY) as c:
        with pytest.raises(GatewayConnectionError) as err:
            await c.tasks.run(worker_id=PEER, prompt="x")
        assert err.value.code == "connection_error"
        assert _leaks(err.value, KEY) == []


async def test_auth_and_unknown_worker(start_gateway: Any, write_agent: Any) -> None:
    gw = start_gateway(write_agent(SLOW_AGENT).worker("Slow", max_tasks=2), api_keys=[KEY])
    async with AsyncAgentFMClient(gw.url, api_key=KEY) as c:
        peer = (await c.workers.list())[0].peer_id
        result = await c.tasks.run(worker_id=peer, prompt="short")
        assert result.text == "line 0\nline 1\n\n"  # the blank line before the sentinel is kept
        with pytest.raises(WorkerNotFoundError):
            await c.tasks.run(worker_id=PEER, prompt="x")
        async with c.with_options(api_key="wrong-key-that-is-long-enough-42") as bad:
            with pytest.raises(AuthenticationError) as err:
                await bad.tasks.run(worker_id=peer, prompt="x")
            assert _leaks(err.value, "wrong-key-that-is-long-enough-42") == []
        # a gateway dying mid-stream: typed, and the key is nowhere in the chain
        with pytest.raises(WorkerStreamError) as dead:
            async for _chunk in c.tasks.stream(worker_id=peer, prompt="long"):
                os.kill(gw.pid, signal.SIGKILL)
        assert _leaks(dead.value, KEY) == []


async def test_cancel_mid_read_frees_the_slot(start_gateway: Any, write_agent: Any) -> None:
    gw = start_gateway(write_agent(SLOW_AGENT).worker("Slow", max_tasks=1))
    async with AsyncAgentFMClient(gw.url, api_key=None) as c:
        peer = (await c.workers.list())[0].peer_id
        task = asyncio.create_task(c.tasks.run(worker_id=peer, prompt="long"))
        await asyncio.sleep(0.4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(50):
            if (await c.workers.get(peer)).current_tasks == 0:
                break
            await asyncio.sleep(0.1)
        assert (await c.workers.get(peer)).current_tasks == 0


async def test_fake_answers_under_a_path_prefix(
    fake_server: Callable[[dict[str, Route]], FakeServer],
) -> None:
    done = b"hello\n[AGENTFM: NO_FILES]\n"
    busy = b'{"error": {"message": "busy", "type": "x", "code": "mesh_overloaded"}}'
    srv = fake_server({"/gw/api/execute": (200, "text/plain", done)})
    async with AsyncAgentFMClient(f"{srv.url}/gw", api_key=None) as c:
        assert (await c.tasks.run(worker_id=PEER, prompt="x")).text == "hello\n"
        # no sentinel (a real worker's capacity refusal has none): the text, not an error
        srv.routes["/gw/api/execute"] = (200, "text/plain", b"no marker\n")
        assert (await c.tasks.run(worker_id=PEER, prompt="x")).text == "no marker\n"
        srv.routes["/gw/api/execute"] = (503, "application/json", busy)
        with pytest.raises(MeshOverloadedError):
            await c.tasks.run(worker_id=PEER, prompt="x")


async def test_environment_proxy_carries_every_request(
    fake_server: Callable[[dict[str, Route]], FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # as with the SDK (httpx's trust_env): HTTP_PROXY applies, the hot path included
    target = "http://gateway.invalid:8080"
    proxy = fake_server(
        {
            f"{target}/api/execute": (200, "text/plain", b"via proxy\n[AGENTFM: NO_FILES]\n"),
            f"{target}/api/workers": (200, "application/json", b'{"agents": []}'),
        }
    )
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with AsyncAgentFMClient(target, api_key=None) as c:
        assert await c.workers.list() == []
        assert (await c.tasks.run(worker_id=PEER, prompt="x")).text == "via proxy\n"
    with AgentFMClient(target, api_key=None) as s:
        assert s.tasks.run(worker_id=PEER, prompt="x").text == "via proxy\n"
