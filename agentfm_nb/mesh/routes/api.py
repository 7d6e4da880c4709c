"""The ``/api/*`` routes: worker list, streaming dispatch, async dispatch with webhook, relay
probe. Validation order, texts and counting follow ``boss/api_handlers.go`` and
``boss/api_async.go``; the body bytes of a running task are the runtime's (``OpenRun``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentfm_nb.mesh.peerid import is_valid_peer_id
from agentfm_nb.mesh.refusals import UnknownWorker, WorkerBusy
from agentfm_nb.mesh.routes.common import (
    GatewayState,
    error_response,
    json_response,
    method_not_allowed,
    read_limited,
    route,
    state_of,
    text_error,
)
from agentfm_nb.mesh.routes.decode import GoDecodeError, decode
from agentfm_nb.mesh.routes.streaming import LastChunk, WatchedStream
from agentfm_nb.mesh.routes.tasks import OpenRun, mint_task_id, open_run
from agentfm_nb.mesh.taskrun import SHUTDOWN_TAIL, is_valid_task_id
from agentfm_nb.mesh.webhooks import WebhookRefused, parse_target
from agentfm_nb.wire import ERROR_PREFIX

log = logging.getLogger("agentfm_nb.mesh.api")

EXECUTE_FIELDS = {
    "worker_id": "string",
    "prompt": "string",
    "task_id": "string",
    "feedback": "string",
    "feedback_rating": "number",
}
ASYNC_FIELDS = {"worker_id": "string", "prompt": "string", "webhook_url": "string"}
RELAY_FIELDS = {"multiaddr": "string"}
_RELAY_BODY_CAP = 4 * 1024
_ARTIFACT_POLL_S = 0.1
# What the real boss sets on a task stream (no charset, unlike its error bodies).
STREAM_TYPE = "text/plain"


class Refused(Exception):
    """An answer given before any task starts, with the ``tasks_total`` status it counts as."""

    def __init__(self, response: Response, status: str = "error") -> None:
        super().__init__(response.status_code)
        self.response = response
        self.status = status


def capacity_line(current: int, maximum: int) -> bytes:
    """The full worker's whole answer (``worker/handler.go``): one line, no sentinel."""
    return (
        f"{ERROR_PREFIX}Worker is at max capacity ({current}/{maximum}). Try another worker.\n"
    ).encode()


async def list_workers(request: Request) -> Response:
    if request.method != "GET":
        return method_not_allowed()
    state = state_of(request)
    values = request.query_params.getlist("include_offline")
    include_offline = bool(values) and values[0] == "true"
    return Response(state.mesh.workers_json(include_offline), media_type="application/json")


async def _request(request: Request, state: GatewayState, fields: dict[str, Any]) -> dict[str, Any]:
    raw = await read_limited(request, state.api_body_cap)
    try:
        req = decode(raw, fields)
    except GoDecodeError:
        raise Refused(text_error(400, "Invalid JSON payload")) from None
    if not req["worker_id"]:
        raise Refused(text_error(400, "worker_id is required"))
    if not req["prompt"]:
        raise Refused(text_error(400, "prompt is required"))
    return req


def _check_worker(state: GatewayState, worker_id: str) -> Any:
    """Table lookup first (404), then the id's syntax (400), then the trust gate (403)."""
    snap: Any = state.mesh.lookup(worker_id)
    if snap is None or not getattr(snap, "online", True):
        raise Refused(text_error(404, "Worker not found or offline"), "rejected")
    if not is_valid_peer_id(worker_id):
        raise Refused(text_error(400, "Invalid Worker ID format"))
    if not getattr(snap, "dispatch_allowed", True):
        reason = getattr(snap, "dispatch_refuse_reason", None) or "dispatch_not_allowed"
        raise Refused(text_error(403, f"dispatch refused: {reason}"), "rejected")
    return snap


def _claim(state: GatewayState, task_id: str) -> None:
    # Two tasks under one id would share one artifact path: refuse the second.
    if task_id in state.inflight:
        raise Refused(text_error(409, f"task_id {task_id} is already in flight"), "rejected")
    state.inflight.add(task_id)


class _Tally:
    """One ``/api/execute`` task's books (task_id claim, run, metrics), settled exactly once:
    by the body's end, or by the response's end when the body never started."""

    def __init__(self, state: GatewayState, started: float, task_id: str) -> None:
        self.state = state
        self.started = started
        self.task_id = task_id
        self.run: OpenRun | None = None
        self._settled = False

    async def body(self, source: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """The stream, counted ``ok`` once its last byte is handed over, ``error`` otherwise."""
        status = "error"
        try:
            async for chunk in source:
                if isinstance(chunk, LastChunk):
                    status = "ok"
                yield chunk
            status = "ok"
        finally:
            with contextlib.suppress(Exception):
                await source.aclose()
            self._settle(status)

    async def release(self) -> None:
        try:
            if self.run is not None:  # a no-op when the body ran and closed it
                await self.run.close(_LEFT, "api")
        finally:
            self._settle("error")

    def _settle(self, status: str) -> None:
        if self._settled:
            return
        self._settled = True
        self.state.inflight.discard(self.task_id)
        self.state.metrics.task(status, time.monotonic() - self.started)


# how a run whose body never started ends: as if its reader had been cancelled
_LEFT = (asyncio.CancelledError, asyncio.CancelledError("the client left"), None)


async def _one_chunk(data: bytes) -> AsyncGenerator[bytes, None]:
    yield LastChunk(data)


async def execute(request: Request) -> Response | WatchedStream:
    if request.method != "POST":
        return method_not_allowed()
    state = state_of(request)
    started = time.monotonic()
    try:
        req = await _request(request, state, EXECUTE_FIELDS)
        task_id: str = req["task_id"] or mint_task_id()
        if not is_valid_task_id(task_id):
            raise Refused(text_error(400, "Invalid task_id format"))
        worker_id: str = req["worker_id"]
        snap = _check_worker(state, worker_id)
        _claim(state, task_id)
    except Refused as refused:
        state.metrics.task(refused.status, time.monotonic() - started)
        return refused.response
    tally = _Tally(state, started, task_id)
    body: AsyncGenerator[bytes, None]
    try:
        tally.run = await open_run(state, worker_id, req["prompt"], task_id)
        body = tally.run.api_body()
    except WorkerBusy:
        state.metrics.capacity_rejected()
        body = _one_chunk(capacity_line(snap.current_tasks, snap.max_tasks))
    except UnknownWorker:  # went away (or the gateway is draining) since the lookup
        state.inflight.discard(task_id)
        state.metrics.task("error", time.monotonic() - started)
        return text_error(500, "Failed to connect to worker via DHT or Relay")
    return WatchedStream(
        tally.body(body),
        state=state,
        media_type=STREAM_TYPE,
        shutdown_tail=SHUTDOWN_TAIL,
        release=tally.release,
    )


async def execute_async(request: Request) -> Response:
    if request.method != "POST":
        return method_not_allowed()
    state = state_of(request)
    try:
        req = await _request(request, state, ASYNC_FIELDS)
        _check_worker(state, req["worker_id"])
    except Refused as refused:
        return refused.response
    task_id = mint_task_id()
    if state.async_in_flight >= state.async_cap:
        return error_response(
            503,
            "too many async tasks in flight; retry shortly",
            "async_capacity_exhausted",
            headers={"Retry-After": "5"},
        )
    state.async_in_flight += 1
    task = asyncio.ensure_future(_run_async(state, req, task_id))
    state.background.add(task)
    task.add_done_callback(lambda t: _async_done(state, t))
    # a Go map: sorted keys
    body = {"message": "Task dispatched to P2P mesh.", "status": "queued", "task_id": task_id}
    return json_response(body, status=202)


def _async_done(state: GatewayState, task: asyncio.Task[None]) -> None:
    state.background.discard(task)
    state.async_in_flight -= 1
    if not task.cancelled() and task.exception() is not None:
        log.warning("async task failed: %r", task.exception())


async def wait_for_artifact(path: Path, max_wait_s: float) -> bool:
    """Poll for the task's zip, as the real boss does before its webhook."""
    deadline = time.monotonic() + max_wait_s
    while True:
        if os.path.exists(path):  # noqa: ASYNC240 - one stat per 100 ms, not worth a thread
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_ARTIFACT_POLL_S)


async def _run_async(state: GatewayState, req: dict[str, Any], task_id: str) -> None:
    """Run the task for nobody, wait for its zip, then (maybe) notify: ``runAsyncTask``."""
    started = time.monotonic()
    status = "error"
    state.inflight.add(task_id)
    try:
        try:
            run: OpenRun | None = await open_run(state, req["worker_id"], req["prompt"], task_id)
        except WorkerBusy:  # the worker answers with its capacity line: a clean end
            state.metrics.capacity_rejected()
            run = None
        except UnknownWorker:
            return  # the dial failed: no webhook
        if run is not None:
            async for _ in run.batches("api"):
                pass
        status = "ok"
    finally:
        state.inflight.discard(task_id)
        state.metrics.task(status, time.monotonic() - started)
    artifacts_dir = Path(getattr(state.mesh, "artifacts_dir", "agentfm_artifacts"))
    await wait_for_artifact(artifacts_dir / f"{task_id}.zip", state.async_artifact_wait_s)
    url: str = req["webhook_url"]
    if not url:
        return
    try:
        target = parse_target(url)  # checked at delivery only, as the real gateway does
    except WebhookRefused as exc:
        log.warning("webhook for %s refused: %s", task_id, exc)
        return
    payload = {"status": "completed", "task_id": task_id, "worker_id": req["worker_id"]}
    await state.webhooks.post(target, payload)


async def relay_test(request: Request) -> Response:
    """``POST /api/relay/test``: no libp2p host here, so after the real checks of the body the
    answer is the real one for a boss without a host."""
    if request.method != "POST":
        return json_response({"ok": False, "error": "POST only"}, 405, escape_html=False)
    raw = await read_limited(request, _RELAY_BODY_CAP)
    try:
        req = decode(raw, RELAY_FIELDS)
    except GoDecodeError as exc:
        return json_response({"ok": False, "error": f"invalid JSON: {exc}"}, 400, escape_html=False)
    if not req["multiaddr"].strip():
        body = {"ok": False, "error": "field 'multiaddr' is required"}
        return json_response(body, 400, escape_html=False)
    body = {"ok": False, "error": "boss host not initialized"}
    return json_response(body, 503, escape_html=False)


routes = [
    route("/api/workers", list_workers),
    route("/api/execute", execute),
    route("/api/execute/async", execute_async),
    route("/api/relay/test", relay_test),
]
