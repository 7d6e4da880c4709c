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
        # The body is pumped on the request's own task; a small watcher task cancels it when the
        # client leaves, and the gateway's shutdown cancels it through ``state.streams``.
        self._started = self._completed = False
        task = asyncio.current_task()
        assert task is not None
        self._gone = False
        watcher = asyncio.ensure_future(self._cancel_on_disconnect(receive, task))
        self.state.streams.add(task)
        try:
            await self._pump(send)
        except asyncio.CancelledError:
            if not (self._gone or self.state.shutdown.is_set()):
                raise  # not ours: the server itself is cancelling the request
            uncancel = getattr(task, "uncancel", None)  # 3.11+; 3.10 counts no cancels
            if uncancel is not None:
                uncancel()
        finally:
            self.state.streams.discard(task)
            watcher.cancel()
        if self._started and not self._completed and not self._gone:
            # Ended by the gateway (shutdown) with the client still there: close the body
            # properly rather than dropping the connection mid-chunk.
            with contextlib.suppress(Exception):
                await send(
                    {"type": "http.response.body", "body": self.shutdown_tail, "more_body": False}
                )

    async def _cancel_on_disconnect(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        await _wait_disconnect(receive)
        self._gone = True
        task.cancel()

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
