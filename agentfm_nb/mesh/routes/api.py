"""The ``/api/*`` routes: worker list, streaming dispatch, async dispatch with webhook."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentfm_nb.mesh.peerid import is_valid_peer_id
from agentfm_nb.mesh.refusals import UnknownWorker, WorkerBusy
from agentfm_nb.mesh.routes.common import (
    TEXT_TYPE,
    BodyTooLarge,
    GatewayState,
    error_response,
    json_response,
    read_body,
    state_of,
    text_error,
)
from agentfm_nb.mesh.routes.streaming import WatchedStream
from agentfm_nb.mesh.routes.tasks import OpenRun, mint_task_id, open_run
from agentfm_nb.mesh.taskrun import SHUTDOWN_TAIL, is_valid_task_id
from agentfm_nb.mesh.webhooks import WebhookRefused, WebhookTarget

log = logging.getLogger("agentfm_nb.mesh.api")

_TRUE = frozenset({"1", "true", "yes", "on"})


class DispatchRefused(Exception):
    """A plain-text error answer of the dispatch routes."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def list_workers(request: Request) -> Response:
    state = state_of(request)
    include_offline = request.query_params.get("include_offline", "").lower() in _TRUE
    return Response(state.mesh.workers_json(include_offline), media_type="application/json")


async def _parse(request: Request, state: GatewayState) -> dict[str, Any]:
    try:
        raw = await read_body(request, state.api_body_cap)
    except BodyTooLarge:
        raise DispatchRefused(text_error(413, "Request body too large")) from None
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        raise DispatchRefused(text_error(400, "Invalid JSON payload"))
    worker_id = payload.get("worker_id")
    if not isinstance(worker_id, str) or not worker_id:
        raise DispatchRefused(text_error(400, "worker_id is required"))
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise DispatchRefused(text_error(400, "prompt is required"))
    return payload


def _check_worker(state: GatewayState, worker_id: str) -> None:
    snap: Any = state.mesh.lookup(worker_id)
    # a known id is a valid one: the base58 check is only paid for unknown ids
    if snap is None and not is_valid_peer_id(worker_id):
        raise DispatchRefused(text_error(400, "Invalid Worker ID format"))
    if snap is None or not getattr(snap, "online", True):
        raise DispatchRefused(text_error(404, "Worker not found or offline"))
    if not getattr(snap, "dispatch_allowed", True):
        reason = getattr(snap, "dispatch_refuse_reason", None) or "dispatch_not_allowed"
        raise DispatchRefused(text_error(403, f"dispatch refused: {reason}"))


async def _open(state: GatewayState, worker_id: str, prompt: str, task_id: str) -> OpenRun:
    try:
        return await open_run(state, worker_id, prompt, task_id)
    except WorkerBusy:
        raise DispatchRefused(text_error(503, "Worker is at capacity, try again later")) from None
    except UnknownWorker:
        raise DispatchRefused(text_error(404, "Worker not found or offline")) from None


async def execute(request: Request) -> Response | WatchedStream:
    state = state_of(request)
    try:
        payload = await _parse(request, state)
        task_id = payload.get("task_id")
        if task_id is None or task_id == "":
            task_id = mint_task_id()
        elif not is_valid_task_id(task_id):
            return text_error(400, "Invalid task_id format")
        worker_id: str = payload["worker_id"]
        _check_worker(state, worker_id)
        run = await _open(state, worker_id, payload["prompt"], task_id)
    except DispatchRefused as refused:
        return refused.response
    return WatchedStream(
        run.api_body(),
        state=state,
        media_type=TEXT_TYPE,
        headers={"x-agentfm-task-id": task_id, "x-content-type-options": "nosniff"},
        shutdown_tail=SHUTDOWN_TAIL,
    )


def _capacity_exhausted(state: GatewayState) -> Response:
    return error_response(
        503,
        f"too many async tasks in flight (limit {state.async_cap})",
        "async_capacity_exhausted",
        headers={"Retry-After": "5"},
    )


async def execute_async(request: Request) -> Response:
    state = state_of(request)
    if state.async_in_flight >= state.async_cap:
        return _capacity_exhausted(state)
    # Reserve the slot before the first await so concurrent submits cannot overshoot the cap.
    state.async_in_flight += 1
    committed = False
    try:
        payload = await _parse(request, state)
        worker_id: str = payload["worker_id"]
        _check_worker(state, worker_id)
        target: WebhookTarget | None = None
        webhook_url = payload.get("webhook_url")
        if webhook_url not in (None, ""):
            if not isinstance(webhook_url, str):
                return text_error(400, "Invalid webhook_url")
            try:
                target = await state.webhooks.check(webhook_url)
            except WebhookRefused as exc:
                return text_error(400, f"Invalid webhook_url: {exc}")
        task_id = mint_task_id()
        run = await _open(state, worker_id, payload["prompt"], task_id)
        task = asyncio.ensure_future(_finish_async(state, run, target))
        committed = True
    except DispatchRefused as refused:
        return refused.response
    finally:
        if not committed:
            state.async_in_flight -= 1
    state.background.add(task)
    task.add_done_callback(lambda t: _async_done(state, t))
    return json_response(
        {"task_id": task_id, "status": "queued", "message": "Task dispatched to P2P mesh."},
        status=202,
    )


def _async_done(state: GatewayState, task: asyncio.Task[None]) -> None:
    state.background.discard(task)
    state.async_in_flight -= 1
    if not task.cancelled() and task.exception() is not None:
        log.warning("async task failed: %r", task.exception())


async def _finish_async(state: GatewayState, run: OpenRun, target: WebhookTarget | None) -> None:
    # Nobody reads the stdout of an async task: drain it, keep the artifact, then notify.
    with contextlib.suppress(Exception):
        async for _ in run.batches("api"):
            pass
    if target is None:
        return
    status = "completed" if run.run.status == "ok" else "failed"
    await state.webhooks.post(
        target, {"task_id": run.task_id, "worker_id": run.peer_id, "status": status}
    )


routes = [
    Route("/api/workers", list_workers, methods=["GET"]),
    Route("/api/execute", execute, methods=["POST"]),
    Route("/api/execute/async", execute_async, methods=["POST"]),
]
