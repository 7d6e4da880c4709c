"""The ``/api/*`` routes but the streaming dispatch (``routes/execute.py``, a raw ASGI app):
worker list, async dispatch with webhook, relay probe. Validation order, texts and counting
follow ``boss/api_handlers.go`` and ``boss/api_async.go``."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentfm_nb.mesh.refusals import UnknownWorker, WorkerBusy
from agentfm_nb.mesh.routes.common import (
    GatewayState,
    error_response,
    json_response,
    method_not_allowed,
    read_limited,
    route,
    state_of,
)
from agentfm_nb.mesh.routes.decode import GoDecodeError, decode
from agentfm_nb.mesh.routes.dispatch import ASYNC_FIELDS, Refused, check_worker, parse_request
from agentfm_nb.mesh.routes.tasks import OpenRun, mint_task_id, open_run
from agentfm_nb.mesh.webhooks import WebhookRefused, parse_target

log = logging.getLogger("agentfm_nb.mesh.api")

RELAY_FIELDS = {"multiaddr": "string"}
_RELAY_BODY_CAP = 4 * 1024
_ARTIFACT_POLL_S = 0.1


async def list_workers(request: Request) -> Response:
    if request.method != "GET":
        return method_not_allowed()
    state = state_of(request)
    values = request.query_params.getlist("include_offline")
    include_offline = bool(values) and values[0] == "true"
    return Response(state.mesh.workers_json(include_offline), media_type="application/json")


async def execute_async(request: Request) -> Response:
    if request.method != "POST":
        return method_not_allowed()
    state = state_of(request)
    try:
        req = parse_request(await read_limited(request, state.api_body_cap), ASYNC_FIELDS)
        check_worker(state, req["worker_id"])
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
    route("/api/execute/async", execute_async),
    route("/api/relay/test", relay_test),
]
