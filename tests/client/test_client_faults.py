"""Bad input and faults, against real gateways (and a tiny garbage server where none can)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from client_fakes import FakeServer, Route, json_route

from agentfm_nb import AgentFMClient, AsyncAgentFMClient
from agentfm_nb.client.resources.openai import reset_routing_warning
from agentfm_nb.errors import (
    ArtifactError,
    AuthenticationError,
    GatewayConnectionError,
    GatewayProtocolError,
    MeshOverloadedError,
    TaskExecutionError,
    WorkerNotFoundError,
    WorkerStreamError,
)

SLOW_AGENT = """
import os, sys, time
prompt = os.environ.get("AGENTFM_PROMPT") or sys.stdin.read()
if prompt.startswith("fail"):
    print("about to fail", flush=True)
    sys.exit(3)
n = 400 if prompt.startswith("long") else 3
for i in range(n):
    print("line", i, flush=True)
    time.sleep(0.05)
"""


def _wait_idle(c: AgentFMClient, peer: str) -> None:
    for _ in range(50):
        if c.workers.get(peer).current_tasks == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the worker slot was never freed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def slow_gateway(start_gateway: Any, write_agent: Any) -> Any:
    script = write_agent(SLOW_AGENT)
    return start_gateway(script.worker("Slow", engine="slow", max_tasks=1))


def test_gateway_not_running() -> None:
    c = AgentFMClient(f"http://127.0.0.1:{_free_port()}", retries=1, api_key=None)
    with pytest.raises(GatewayConnectionError) as err:
        c.workers.list()
    assert err.value.code == "connection_error"
    with pytest.raises(GatewayConnectionError):
        list(c.tasks.stream(worker_id="12D3KooWxyz", prompt="x"))
    assert c.ping() is False
    c.close()


def test_wrong_key_and_secret_hygiene(
    start_gateway: Any, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    gw = start_gateway(api_keys=[api_key])
    bad = "wrong-key-that-is-long-enough-42"
    caplog.set_level(logging.DEBUG)
    with AgentFMClient(gw.url, api_key=bad) as c:
        with pytest.raises(AuthenticationError) as err:
            c.workers.list()
        assert (err.value.code, err.value.status) == ("invalid_api_key", 401)
        assert bad not in str(err.value) and bad not in repr(err.value)
        assert bad not in repr(c) and bad not in repr(c._http.headers)
        assert c.ping() is False
    with AgentFMClient(gw.url, api_key=None) as c, pytest.raises(AuthenticationError) as err:
        c.workers.list()
    assert err.value.code == "unauthorized"
    with AgentFMClient(gw.url, api_key=api_key) as c:
        assert c.workers.list()
        assert api_key not in repr(c)
    assert bad not in caplog.text and api_key not in caplog.text


PEER = "12D3KooWQLXSUaBdL1pXAGb7hbAwwcC4FDqAHjMu2TwCQ8WWZ5rS"  # a peer id: no routing warning


def _chain_leaks(err: BaseException, key: str) -> list[str]:
    """Where ``key`` is reachable from ``err``'s chain (messages, attributes, request headers)."""
    leaks: list[str] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        texts = [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
        request = getattr(exc, "_request", None)
        if request is not None:
            texts.append(repr(dict(request.headers)))
        leaks += [type(exc).__name__ for t in texts if key in t]
        todo += [exc.__cause__, exc.__context__]
    return leaks


async def test_key_unreachable_through_exception_chains(slow_gateway: Any) -> None:
    key = "client-side-key-that-must-not-leak-0001"
    dead = f"http://127.0.0.1:{_free_port()}"
    with AgentFMClient(dead, retries=0, api_key=key) as c:
        calls: list[Callable[[], object]] = [
            c.workers.list,
            lambda: list(c.tasks.stream(worker_id="12D3KooWxyz", prompt="x")),
            c.openai.models.list,
            lambda: c.openai.completions.create(model=PEER, prompt="x", stream=True),
            lambda: next(iter(c.events.stream(reconnect=False))),
        ]
        for call in calls:
            with pytest.raises(GatewayConnectionError) as err:
                call()
            assert err.value.__context__ is not None  # the chain is there, only scrubbed
            assert _chain_leaks(err.value, key) == []
    async with AsyncAgentFMClient(dead, retries=0, api_key=key) as ac:
        with pytest.raises(GatewayConnectionError) as aerr:
            await ac.workers.list()
        assert _chain_leaks(aerr.value, key) == []
    # a transport failure mid-stream (gateway killed) carries the request too
    with AgentFMClient(slow_gateway.url, api_key=key) as c:
        peer = c.workers.list()[0].peer_id
        with pytest.raises(WorkerStreamError) as err:
            for _chunk in c.tasks.stream(worker_id=peer, prompt="long"):
                os.kill(slow_gateway.pid, signal.SIGKILL)
        assert _chain_leaks(err.value, key) == []


def test_key_from_env(start_gateway: Any, api_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    gw = start_gateway(api_keys=[api_key])
    monkeypatch.setenv("AGENTFM_API_KEY", api_key)
    with AgentFMClient(gw.url) as c:
        assert len(c.workers.list()) == 4
        with c.with_options(api_key=None) as anon, pytest.raises(AuthenticationError):
            anon.workers.list()


def test_not_json_body(fake_server: Callable[[dict[str, Route]], FakeServer]) -> None:
    srv = fake_server(
        {
            "/api/workers": (200, "application/json", b"<html>surprise</html>"),
            "/v1/models": (500, "application/json", b"{broken"),
        }
    )
    with AgentFMClient(srv.url, retries=0, api_key=None) as c:
        with pytest.raises(GatewayProtocolError):
            c.workers.list()
        with pytest.raises(GatewayProtocolError):
            c.openai.models.list()


def test_unknown_fields_ignored(fake_server: Callable[[dict[str, Route]], FakeServer]) -> None:
    worker = {
        "peer_id": "12D3KooWQLXSUaBdL1pXAGb7hbAwwcC4FDqAHjMu2TwCQ8WWZ5rS",
        "name": "X",
        "hardware": "mistral (CPU: 4 Cores)",
        "status": "AVAILABLE",
        "max_tasks": 2,
        "future_field": [1, 2],
        "nested": {"a": 1},
    }
    srv = fake_server(
        {
            "/api/workers": json_route({"success": True, "agents": [worker], "new_top": 1}),
            "/v1/models": json_route(
                {
                    "object": "list",
                    "data": [{"id": "m", "created": 0, "agentfm_engine": "e", "zzz": 1}],
                }
            ),
            "/api/execute/async": json_route({"task_id": "t1", "status": "queued", "eta": 3}, 202),
            "/v1/peers/p": json_route({"peer_id": "p", "rater_summary": {"new": 1}, "x": 2}),
        }
    )
    with AgentFMClient(srv.url, api_key=None) as c:
        [w] = c.workers.list(model="mistral")
        assert (w.name, w.max_tasks, w.engine) == ("X", 2, "mistral")
        m = c.openai.models.list().data[0]
        assert m.agentfm_engine == "e" and m.zzz == 1
        assert c.tasks.submit_async(worker_id=w.peer_id, prompt="x").task_id == "t1"
        assert c.peers.get("p").peer_id == "p"


def test_malicious_zip_in_artifacts_dir(gateway: Any, tmp_path: Path) -> None:
    evil_dir = tmp_path / "harvest"
    evil_dir.mkdir()
    task_id = "task_evil_0001"
    with zipfile.ZipFile(evil_dir / f"{task_id}.zip", "w") as zf:
        zf.writestr("../../escaped.txt", b"owned")
    with AgentFMClient(gateway.url, artifacts_dir=evil_dir, api_key=None) as c:
        scribe = c.workers.list(agent_name="Scribe")[0]
        with pytest.raises(ArtifactError) as err:
            c.tasks.run(worker_id=scribe.peer_id, prompt="x", task_id=task_id, artifact_timeout=5)
    assert err.value.code == "zip_slip"
    assert (
        not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
    )


def test_gateway_killed_mid_stream(slow_gateway: Any) -> None:
    with AgentFMClient(slow_gateway.url, api_key=None) as c:
        peer = c.workers.list()[0].peer_id
        got: list[str] = []
        with pytest.raises(WorkerStreamError):  # the SDK's class for a stream that broke
            for chunk in c.tasks.stream(worker_id=peer, prompt="long"):
                got.append(chunk.text)
                if "line 1" in "".join(got):
                    os.kill(slow_gateway.pid, signal.SIGKILL)
        assert "".join(got).startswith("line 0")


def test_agent_failure_and_busy_mesh(slow_gateway: Any) -> None:
    with AgentFMClient(slow_gateway.url, api_key=None) as c:
        peer = c.workers.list()[0].peer_id
        # the SDK returns a failed agent's output as text; raising is opt-in
        failed = c.tasks.run(worker_id=peer, prompt="fail")
        assert "Sandbox exited" in failed.text or "ERROR" in failed.text
        with pytest.raises(TaskExecutionError):
            c.tasks.run(worker_id=peer, prompt="fail", raise_on_agent_error=True)
        stream = c.tasks.stream(worker_id=peer, prompt="long")
        next(stream)  # the only slot is now taken
        reset_routing_warning()  # the warning is once per process: another test may have had it
        with pytest.warns(UserWarning), pytest.raises(MeshOverloadedError) as err:
            c.openai.completions.create(model="slow", prompt="x")
        assert err.value.status == 503
        stream.close()
        with pytest.raises(WorkerNotFoundError):
            c.tasks.run(
                worker_id="12D3KooWQLXSUaBdL1pXAGb7hbAwwcC4FDqAHjMu2TwCQ8WWZ5rS", prompt="x"
            )


async def test_cancel_run_frees_the_worker(slow_gateway: Any) -> None:
    async with AsyncAgentFMClient(slow_gateway.url, api_key=None) as c:
        peer = (await c.workers.list())[0].peer_id
        task = asyncio.create_task(c.tasks.run(worker_id=peer, prompt="long"))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(50):
            if (await c.workers.get(peer)).current_tasks == 0:
                break
            await asyncio.sleep(0.1)
        assert (await c.workers.get(peer)).current_tasks == 0
        assert (await c.tasks.run(worker_id=peer, prompt="short")).text.startswith("line 0")


def test_keyboard_interrupt_keeps_partial_scatter(slow_gateway: Any) -> None:
    with AgentFMClient(slow_gateway.url, api_key=None) as c:
        peer = c.workers.list()[0].peer_id
        # one slot, three short tasks then long ones: interrupt while a long one runs
        prompts = ["a", "b", "long1", "long2", "long3"]
        # a real SIGINT, like Ctrl-C: it interrupts the blocking wait in the main thread
        timer = threading.Timer(1.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        started = time.monotonic()
        try:
            results = c.tasks.scatter(prompts, peer_ids=[peer], max_concurrency=1)
        finally:
            timer.cancel()
        assert time.monotonic() - started < 15
        assert [r.status for r in results[:2]] == ["success", "success"]
        assert results[2].status == "cancelled" or results[2].status == "failed"
        assert all(r.status != "success" for r in results[2:])
        _wait_idle(c, peer)  # the closed response made the gateway stop the agent
        assert c.tasks.run(worker_id=peer, prompt="again").text.startswith("line 0")


@pytest.mark.parametrize("how", ["run", "stream"])
def test_keyboard_interrupt_in_run_and_stream_stops_the_agent(slow_gateway: Any, how: str) -> None:
    with AgentFMClient(slow_gateway.url, api_key=None) as c:
        peer = c.workers.list()[0].peer_id
        got: list[str] = []
        interrupted = threading.Event()

        def ctrl_c_once_running() -> None:
            # a real SIGINT once the agent holds the only slot (not at a guessed moment)
            with AgentFMClient(slow_gateway.url, api_key=None) as probe:
                for _ in range(100):
                    if probe.workers.get(peer).current_tasks == 1:
                        break
                    time.sleep(0.05)
            time.sleep(0.2)
            interrupted.set()
            os.kill(os.getpid(), signal.SIGINT)

        watcher = threading.Thread(target=ctrl_c_once_running)
        watcher.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                if how == "run":
                    c.tasks.run(worker_id=peer, prompt="long")
                else:
                    for chunk in c.tasks.stream(worker_id=peer, prompt="long"):
                        got.append(chunk.text)
        finally:
            watcher.join()
        assert interrupted.is_set()
        if how == "stream":
            assert "".join(got).startswith("line 0")  # what arrived before Ctrl-C is kept
        _wait_idle(c, peer)  # the closed response made the gateway stop the agent
        assert c.tasks.run(worker_id=peer, prompt="again").text.startswith("line 0")


def test_events_stream_with_no_gateway_fails_at_once() -> None:
    # reconnecting is for a gateway that went away, not for one that was never there
    dead = f"http://127.0.0.1:{_free_port()}"
    with AgentFMClient(dead, retries=0, api_key=None) as c:
        started = time.monotonic()
        with pytest.raises(GatewayConnectionError):
            next(iter(c.events.stream()))
        # behaviour, not speed: the reconnect backoff alone would take about 18 s
        assert time.monotonic() - started < 8.0
