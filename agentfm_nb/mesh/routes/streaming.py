"""A streaming ASGI response that notices a client leaving (or the gateway stopping) at once.

uvicorn silently drops writes to a closed socket, so a stream that only writes would run its
agent to the end for nobody. The body runs in its own task next to a watcher on ``receive``;
whichever ends first cancels the other, and the body generator is always closed, which is what
leaves a ``TaskRun`` context and kills the agent. A generator closed before its first step runs
none of its ``finally`` blocks, though (a client may leave before the body ever starts), so what
must be released whatever happens (the slot, the task_id) is also handed over as ``release``,
which the response awaits once, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from starlette.types import Receive, Scope, Send

from agentfm_nb.mesh.routes.common import GatewayState
from agentfm_nb.mesh.taskrun import FinalChunk

T = TypeVar("T")


# A body chunk known to be the last one goes out with the end of the response in one write
# (a short task's whole answer is then the headers plus one write).
LastChunk = FinalChunk


class WatchedStream:
    """``body`` chunks sent as they come; the request is watched for a disconnect meanwhile."""

    def __init__(
        self,
        body: AsyncGenerator[bytes, None],
        *,
        state: GatewayState,
        media_type: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        shutdown_tail: bytes = b"",
        release: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.body = body
        self.release = release
        self.shutdown_tail = shutdown_tail
        self.state = state
        self.status = status
        raw = [(b"content-type", media_type.encode("latin-1"))]
        raw.append((b"cache-control", b"no-cache"))
        raw.append((b"x-accel-buffering", b"no"))
        for k, v in (headers or {}).items():
            raw.append((k.lower().encode("latin-1"), v.encode("latin-1")))
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._respond(receive, send)
        finally:
            # whether or not the body ever started, and on any cancel
            release, self.release = self.release, None
            if release is not None:
                await release()

    async def _respond(self, receive: Receive, send: Send) -> None:
        # The body is pumped on the request's own task; the guard's watcher cancels it when the
        # client leaves, and the gateway's shutdown cancels it through ``state.streams``.
        self._started = self._completed = False
        with StreamGuard(receive, self.state) as guard:
            guard.arm()
            await self._pump(send)
        await guard.close_body(send, self._started and not self._completed, self.shutdown_tail)

    async def _pump(self, send: Send) -> None:
        body = self.body
        try:
            await send(
                {"type": "http.response.start", "status": self.status, "headers": self.raw_headers}
            )
            self._started = True
            async for chunk in body:
                last = type(chunk) is FinalChunk
                await send({"type": "http.response.body", "body": chunk, "more_body": not last})
                if last:
                    self._completed = True
                    break
        finally:
            # Runs on cancel too: closing the generator leaves its TaskRun context.
            with contextlib.suppress(Exception):
                await body.aclose()
        if not self._completed:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            self._completed = True


class StreamGuard:
    """A streaming answer's watch over its own task: registered in ``state.streams`` so the
    gateway's shutdown cancels it, and (once :meth:`arm` is called) a watcher on ``receive``
    that cancels it when the client leaves. A stream arms it only when it first has to wait,
    so an answer that is ready at once never pays for the watcher task.
    """

    __slots__ = ("_receive", "_state", "_task", "_watcher", "gone")

    def __init__(self, receive: Receive, state: GatewayState) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._receive = receive
        self._state = state
        self._watcher: asyncio.Future[None] | None = None
        self.gone = False
        state.streams.add(task)

    def arm(self) -> None:
        """Watch for the client leaving from now on (idempotent)."""
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._cancel_on_disconnect())

    async def _cancel_on_disconnect(self) -> None:
        await _wait_disconnect(self._receive)
        self.gone = True
        self._task.cancel()

    def __enter__(self) -> StreamGuard:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        """Unregister, stop watching, and swallow a cancel of our own (client gone, gateway
        stopping); one from anyone else (the server cancelling the request) goes on."""
        self._state.streams.discard(self._task)
        if self._watcher is not None:
            self._watcher.cancel()
        if exc_type is None or not issubclass(exc_type, asyncio.CancelledError):
            return False
        if not (self.gone or self._state.shutdown.is_set()):
            return False
        uncancel = getattr(self._task, "uncancel", None)  # 3.11+; 3.10 counts no cancels
        if uncancel is not None:
            uncancel()
        return True

    async def close_body(self, send: Send, body_open: bool, tail: bytes) -> None:
        """A body the gateway ended (shutdown) while the client is still there is closed with
        ``tail`` rather than dropped mid-chunk."""
        if body_open and not self.gone:
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class Abandoned(Exception):
    """The client left, or the gateway is stopping, before a buffered answer was ready."""


async def unless_abandoned(
    coro: Coroutine[Any, Any, T], receive: Receive, state: GatewayState
) -> T:
    """Run ``coro`` for a non-streaming answer, cancelling it if the client disconnects first
    (or the gateway shuts down), so a buffered completion cannot keep an agent busy for nobody.
    """
    work = asyncio.ensure_future(coro)
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    state.streams.add(work)
    try:
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        state.streams.discard(work)
        watcher.cancel()
        if not work.done():
            work.cancel()
        await asyncio.gather(work, watcher, return_exceptions=True)
    if work.cancelled():
        raise Abandoned
    return work.result()
