"""``events.stream()`` across a real gateway restart on the same port.

The consumer only iterates: the stream must notice the gateway going away, retry, mark the
gap with ``Reconnected`` and then deliver the new gateway's task events by itself. A fixed
``seed`` keeps peer ids the same across the restart, so a peer id listed before the restart
still addresses the worker afterwards.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentfm_nb import AgentFMClient, AsyncAgentFMClient
from agentfm_nb.client import MeshEvent, Reconnected
from agentfm_nb.client.resources.events import TaskFinished, TaskStarted
from agentfm_nb.gateway import LocalMeshGateway
from agentfm_nb.gateway._process import free_port

_MESH = """\
seed = "events-reconnect"

[[workers]]
name = "Echo"
engine = "echo"
author = "tests"
kind = "python"
callable = "agentfm_nb.mesh.demo:echo"
max_tasks = 4
"""

_CLEAN_ENV: dict[str, str | None] = {
    "AGENTFM_API_KEYS": None,
    "AGENTFM_ALLOW_UNAUTH_PUBLIC": None,
    "AGENTFM_WEBHOOK_SECRET": None,
    "AGENTFM_WEBHOOK_ALLOW_PRIVATE": None,
}
# The gap is a gateway restart (~1-2 s); the client's linear backoff needs a few more tries
# than its default to span it.
_MAX_RECONNECTS = 30
_WAIT = 30.0


class Restartable:
    """Embedded gateways started one after another on one fixed port."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.config = tmp_path / "mesh.toml"
        self.config.write_text(_MESH)
        self.port = free_port()
        self.current: LocalMeshGateway | None = None
        self.generation = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalMeshGateway:
        n = self.generation = self.generation + 1
        gw = LocalMeshGateway(
            port=self.port,
            backend="embedded",
            config=self.config,
            artifacts_dir=self.tmp / f"artifacts-{n}",
            log_file=self.tmp / f"gateway-{n}.log",
            env=_CLEAN_ENV,
        )
        self.current = gw
        gw.start()
        return gw

    def stop(self) -> None:
        gw, self.current = self.current, None
        if gw is not None:
            gw.stop()


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Restartable]:
    r = Restartable(tmp_path)
    try:
        yield r
    finally:
        r.stop()


def _task_events(got: list[MeshEvent], task_id: str) -> list[type[MeshEvent]]:
    return [
        type(e) for e in got if isinstance(e, (TaskStarted, TaskFinished)) and e.task_id == task_id
    ]


def _wait_for(
    events: queue.Queue[MeshEvent | BaseException],
    got: list[MeshEvent],
    want: Callable[[list[MeshEvent]], bool],
) -> None:
    """Drain ``events`` into ``got`` until ``want(got)`` holds; bounded by ``_WAIT``."""
    deadline = time.monotonic() + _WAIT
    while not want(got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; stream gave {got!r}")
        try:
            item = events.get(timeout=left)
        except queue.Empty:
            continue
        if isinstance(item, BaseException):
            raise AssertionError(f"stream failed after {got!r}") from item
        got.append(item)


def test_sync_stream_survives_gateway_restart(restartable: Restartable) -> None:
    first = restartable.start()
    client = AgentFMClient(restartable.url, api_key=None, timeout=10.0)
    events: queue.Queue[MeshEvent | BaseException] = queue.Queue()
    stop = threading.Event()
    got: list[MeshEvent] = []

    def consume() -> None:
        try:
            for ev in client.events.stream(max_reconnects=_MAX_RECONNECTS):
                events.put(ev)
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the test thread
            events.put(exc)

    consumer = threading.Thread(target=consume, name="events-consumer", daemon=True)
    try:
        (echo,) = client.workers.list()
        peer_id = echo.peer_id
        consumer.start()
        # The subscription is live once a task's events come through (retry: the stream may
        # still be connecting when the first task runs).
        deadline = time.monotonic() + _WAIT
        before = ""
        while _task_events(got, before) != [TaskStarted, TaskFinished]:
            assert time.monotonic() < deadline, f"no task events before the restart: {got!r}"
            before = client.tasks.run(worker_id=peer_id, prompt="before").task_id
            _wait_for_quiet(events, got, 1.0)
        assert _task_events(got, before) == [TaskStarted, TaskFinished]

        restartable.stop()
        assert not first.running
        second = restartable.start()
        assert second.url == first.url

        mark = len(got)
        _wait_for(events, got, lambda g: any(isinstance(e, Reconnected) for e in g[mark:]))
        # Same seed, same peer id: the id from before the restart still names the worker.
        after = client.tasks.run(worker_id=peer_id, prompt="after the restart")
        assert "after the restart" in after.text
        _wait_for(events, got, lambda g: TaskFinished in _task_events(g, after.task_id))

        tail = got[mark:]
        assert [type(e) for e in tail].count(Reconnected) == 1
        assert tail.index(next(e for e in tail if isinstance(e, Reconnected))) < min(
            i for i, e in enumerate(tail) if isinstance(e, TaskStarted)
        )
        assert _task_events(got, after.task_id) == [TaskStarted, TaskFinished]
        finished = next(
            e for e in tail if isinstance(e, TaskFinished) and e.task_id == after.task_id
        )
        assert finished.peer_id == peer_id and finished.status
    finally:
        stop.set()
        restartable.stop()
        client.close()  # a retrying stream fails at once on a closed client
        consumer.join(timeout=15)
    assert not consumer.is_alive()


def _wait_for_quiet(
    events: queue.Queue[MeshEvent | BaseException], got: list[MeshEvent], seconds: float
) -> None:
    """Take whatever arrives within ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = events.get(timeout=left)
        except queue.Empty:
            return
        if isinstance(item, BaseException):
            raise AssertionError(f"stream failed after {got!r}") from item
        got.append(item)
        if isinstance(item, TaskFinished):
            return


async def test_async_stream_survives_gateway_restart(restartable: Restartable) -> None:
    await asyncio.to_thread(restartable.start)
    client = AsyncAgentFMClient(restartable.url, api_key=None, timeout=10.0)
    got: list[MeshEvent] = []
    reconnected = asyncio.Event()

    async def consume() -> None:
        async for ev in client.events.stream(max_reconnects=_MAX_RECONNECTS):
            got.append(ev)
            if isinstance(ev, Reconnected):
                reconnected.set()

    async def until(want: Callable[[], bool]) -> None:
        deadline = time.monotonic() + _WAIT
        while not want():
            assert not consumer.done(), f"stream ended: {got!r}"
            assert time.monotonic() < deadline, f"timed out; stream gave {got!r}"
            await asyncio.sleep(0.02)

    consumer = asyncio.ensure_future(consume())
    try:
        (echo,) = await client.workers.list()
        first = await client.tasks.run(worker_id=echo.peer_id, prompt="hello")
        # The stream may open after this first task ran; either way it must not have ended.
        await asyncio.sleep(0.3)
        assert not any(isinstance(e, Reconnected) for e in got)
        await asyncio.to_thread(restartable.stop)
        await asyncio.to_thread(restartable.start)
        await asyncio.wait_for(reconnected.wait(), _WAIT)
        result = await client.tasks.run(worker_id=echo.peer_id, prompt="hello again")
        await until(lambda: TaskFinished in _task_events(got, result.task_id))
        assert _task_events(got, result.task_id) == [TaskStarted, TaskFinished]
        assert [type(e) for e in got].count(Reconnected) == 1
        assert first.task_id != result.task_id
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await client.aclose()
        await asyncio.to_thread(restartable.stop)
