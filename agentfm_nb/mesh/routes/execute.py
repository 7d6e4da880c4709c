"""``/api/execute`` as a raw ASGI app: every client's hot path, without Starlette's per-request
Request, Response, route and exception layers.

The answers are the ones ``boss/api_handlers.go`` gives (and the Starlette route gave before):
refusals in the real handler's words and order, then the runtime's body bytes sent as they come
(``TaskRun.take``), the full worker's capacity line, the shutdown tail. Each task's books
(task_id claim, ``tasks_total``, ``artifacts_built``) are settled exactly once, whichever way
the stream ends, at the same moments as before.

The disconnect watcher (a task per stream) is started only when the stream first has to wait:
a zero-work agent's whole answer is ready one loop turn after it starts, and that stream then
costs the request's own task and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from agentfm_nb.mesh.front import CORS_HEADERS, with_cors
from agentfm_nb.mesh.refusals import UnknownWorker, WorkerBusy
from agentfm_nb.mesh.routes.common import (
    GatewayState,
    method_not_allowed,
    read_capped,
    text_error,
)
from agentfm_nb.mesh.routes.dispatch import (
    EXECUTE_FIELDS,
    Refused,
    capacity_line,
    check_worker,
    claim,
    parse_request,
)
from agentfm_nb.mesh.routes.streaming import StreamGuard
from agentfm_nb.mesh.routes.tasks import OpenRun, mint_task_id, open_run
from agentfm_nb.mesh.taskrun import SHUTDOWN_TAIL, FinalChunk, is_valid_task_id

# CORS first, as the front's wrapper puts them; then what the real boss sets on a task stream
# (``text/plain`` without a charset, unlike its error bodies). Shared, never mutated.
_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        *CORS_HEADERS,
        (b"content-type", b"text/plain"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
    ],
}
# how a run ends when its stream did not take it to its final chunk: as if its reader had been
# cancelled (OpenRun.close then counts no artifact)
_LEFT = (asyncio.CancelledError, asyncio.CancelledError("the client left"), None)
_CLEAN = (None, None, None)


class ExecuteEndpoint:
    """``POST /api/execute`` (any other method: 405) for one gateway app."""

    def __init__(self, state: GatewayState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _answer(method_not_allowed(), scope, receive, send)
            return
        state = self.state
        started = time.monotonic()
        try:
            req = parse_request(await read_capped(receive, state.api_body_cap), EXECUTE_FIELDS)
            task_id: str = req["task_id"] or mint_task_id()
            if not is_valid_task_id(task_id):
                raise Refused(text_error(400, "Invalid task_id format"))
            worker_id: str = req["worker_id"]
            check_worker(state, worker_id)
            claim(state, task_id)
        except Refused as refused:
            state.metrics.task(refused.status, time.monotonic() - started)
            await _answer(refused.response, scope, receive, send)
            return
        try:
            opened: OpenRun | bytes = await open_run(state, worker_id, req["prompt"], task_id)
        except WorkerBusy:  # (nothing has changed since the checks: no await between)
            state.metrics.capacity_rejected()
            snap: Any = state.mesh.lookup(worker_id)
            opened = capacity_line(snap.current_tasks, snap.max_tasks)
        except UnknownWorker:  # went away (or the gateway is draining) since the lookup
            state.inflight.discard(task_id)
            state.metrics.task("error", time.monotonic() - started)
            response = text_error(500, "Failed to connect to worker via DHT or Relay")
            await _answer(response, scope, receive, send)
            return
        await _Stream(state, task_id, started).run(opened, receive, send)


class _Stream:
    """One task's streamed answer and its books."""

    __slots__ = (
        "body_started",
        "completed",
        "in_source",
        "responded",
        "started",
        "state",
        "status",
        "task_id",
    )

    def __init__(self, state: GatewayState, task_id: str, started: float) -> None:
        self.state = state
        self.task_id = task_id
        self.started = started
        self.status = "error"  # "ok" once the final chunk is in hand
        self.responded = False  # the status line and headers were handed to the server
        self.completed = False  # the final chunk was handed to the server
        self.body_started = False  # the runtime's body was asked for its first bytes
        self.in_source = False  # waiting on the runtime (not on the client's socket)

    async def run(self, opened: OpenRun | bytes, receive: Receive, send: Send) -> None:
        with StreamGuard(receive, self.state) as guard:
            try:
                await send(_START)
                self.responded = True
                if isinstance(opened, bytes):
                    self.status = "ok"
                    await send({"type": "http.response.body", "body": opened, "more_body": False})
                    self.completed = True
                else:
                    await self._pump(opened, guard, send)
            finally:
                # a task's books, on every way out (a cancel included; closing a run that is
                # being cancelled re-raises the cancel, and the books are settled all the same)
                try:
                    if isinstance(opened, OpenRun):
                        clean = self.body_started and not self.in_source and opened.run.done
                        with contextlib.suppress(Exception):
                            await opened.close(_CLEAN if clean else _LEFT, "api")
                finally:
                    self._settle()
        await guard.close_body(send, self.responded and not self.completed, SHUTDOWN_TAIL)

    async def _pump(self, opened: OpenRun, guard: StreamGuard, send: Send) -> None:
        run = opened.run
        self.body_started = self.in_source = True
        data = run.take()
        if data is None:
            # One loop turn lets the agent's first step run: a quick agent is then done, and
            # its stream never needs the disconnect watcher.
            await asyncio.sleep(0)
            data = run.take()
        while True:
            if data is None:
                guard.arm()
                await run.readable()
                data = run.take()
                continue
            self.in_source = False
            if type(data) is FinalChunk:
                self.status = "ok"
                await send({"type": "http.response.body", "body": data, "more_body": False})
                self.completed = True
                return
            await send({"type": "http.response.body", "body": data, "more_body": True})
            self.in_source = True
            data = run.take()

    def _settle(self) -> None:
        state = self.state
        state.inflight.discard(self.task_id)
        state.metrics.task(self.status, time.monotonic() - self.started)


async def _answer(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """A refusal, with the CORS headers the front gives every protected answer."""
    await response(scope, receive, with_cors(send))


__all__ = ["ExecuteEndpoint"]
