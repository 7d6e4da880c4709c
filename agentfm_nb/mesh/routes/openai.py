"""OpenAI-compatible routes: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``.

As in ``boss/openai*.go``: a task's answer is its ``/api/execute`` byte stream cut into lines,
``[AGENTFM:`` lines dropped, each line plus a newline. A failing agent is not an HTTP error: its
text is the answer (200, ``finish_reason: "stop"``), so clients that retry 5xx run it once.
Only a transport failure (the worker cannot be reached) is a 502.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentfm_nb.mesh.refusals import RouteError, UnknownWorker, WorkerBusy
from agentfm_nb.mesh.routes.common import (
    GatewayState,
    error_response,
    go_dumps,
    json_response,
    read_limited,
    route,
    state_of,
)
from agentfm_nb.mesh.routes.decode import GoDecodeError, decode
from agentfm_nb.mesh.routes.dispatch import capacity_line
from agentfm_nb.mesh.routes.lines import TokenTooLong, filtered_lines
from agentfm_nb.mesh.routes.streaming import Abandoned, WatchedStream, unless_abandoned
from agentfm_nb.mesh.routes.tasks import OpenRun, mint_task_id, open_run

CHAT_FIELDS: dict[str, Any] = {
    "model": "string",
    "messages": [{"role": "string", "content": "string"}],
    "stream": "bool",
}
COMPLETION_FIELDS: dict[str, Any] = {"model": "string", "prompt": "any", "stream": "bool"}
# a buffered answer reads at most this much of the task's stream (``maxTaskResponseBytes``)
MAX_RESPONSE_BYTES = 16 << 20
_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
_DONE = b"data: [DONE]\n\n"
_SHUTDOWN_TAIL = _DONE


class OpenAIRefused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refuse(status: int, code: str, message: str) -> OpenAIRefused:
    return OpenAIRefused(error_response(status, message, code))


# -- /v1/models ---------------------------------------------------------------------------


def compose_description(name: str, engine: str, desc: str) -> str:
    """``Name · Engine — Desc``, each part dropped when empty."""
    head = " · ".join(part for part in (name, engine) if part)
    return " — ".join(part for part in (head, desc) if part)


def model_entry(snap: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": snap.peer_id,
        "object": "model",
        "created": 0,
        "owned_by": snap.author or "agentfm",
        "description": compose_description(snap.name, snap.engine, snap.description),
        "agentfm_name": snap.name,
        "agentfm_engine": snap.engine,
        "agentfm_status": snap.status,
        "agentfm_hardware": snap.hardware,
        "agentfm_current_tasks": snap.current_tasks,
        "agentfm_max_tasks": snap.max_tasks,
        "agentfm_cpu_usage_pct": snap.cpu_usage_pct,
        "agentfm_ram_free_gb": snap.ram_free_gb,
        "agentfm_has_gpu": snap.has_gpu,
        "agentfm_gpu_used_gb": snap.gpu_used_gb,
        "agentfm_gpu_total_gb": snap.gpu_total_gb,
        "agentfm_gpu_usage_pct": snap.gpu_usage_pct,
        "agentfm_honesty_score": snap.honesty_score,
        "agentfm_is_equivocator": snap.is_equivocator,
        "agentfm_dispatch_allowed": snap.dispatch_allowed,
        "agentfm_online": True,
    }
    # omitempty in the real struct
    for key in ("description", "agentfm_name", "agentfm_engine", "agentfm_status"):
        if not entry[key]:
            del entry[key]
    if not entry.get("agentfm_hardware", "x"):
        del entry["agentfm_hardware"]
    return entry


async def list_models(request: Request) -> Response:
    state = state_of(request)
    if request.method != "GET":
        return error_response(405, "GET only", "method_not_allowed")
    version = state.mesh.version
    cached = state.models_cache
    if cached is None or cached[0] != version:
        entries = [model_entry(snap) for snap in state.mesh.snapshot(include_offline=False)]
        cached = state.models_cache = (version, entries)
    created = int(time.time())
    data = [{**entry, "created": created} for entry in cached[1]]
    return json_response({"object": "list", "data": data})


# -- requests ------------------------------------------------------------------------------


def render_chat_prompt(messages: list[dict[str, Any]]) -> str:
    """``"<role>: <content>\\n\\n"`` for each message with content, then ``"assistant:"``."""
    parts = [f"{m['role'] or 'user'}: {m['content']}\n\n" for m in messages if m["content"] != ""]
    parts.append("assistant:")
    return "".join(parts)


def prompt_string(prompt: Any) -> str:
    """``promptString``: only a non-blank string is a prompt."""
    if prompt is None:
        raise _refuse(400, "prompt_required", "field 'prompt' is required")
    if isinstance(prompt, str):
        if not prompt.strip():
            raise _refuse(400, "prompt_required", "field 'prompt' must not be empty")
        return prompt
    if isinstance(prompt, list):
        raise _refuse(
            400,
            "unsupported_prompt_type",
            "array form of 'prompt' is not supported in this build; pass a single string",
        )
    raise _refuse(400, "unsupported_prompt_type", "field 'prompt' must be a string")


async def _payload(request: Request, state: GatewayState, fields: dict[str, Any]) -> dict[str, Any]:
    raw = await read_limited(request, state.openai_body_cap)
    try:
        req = decode(raw, fields)
    except GoDecodeError:
        raise _refuse(400, "invalid_request_error", "invalid JSON payload") from None
    if not req["model"].strip():
        raise _refuse(400, "model_required", "field 'model' is required")
    return req


def _route(state: GatewayState, model: str) -> Any:
    try:
        return state.mesh.route(model)
    except RouteError as exc:
        if exc.code == "mesh_overloaded":
            raise _refuse(
                503, "mesh_overloaded", f"all workers matching model '{model}' are at capacity"
            ) from None
        raise _refuse(
            404,
            "model_not_found",
            f"model '{model}' not available on this mesh. /v1/models lists addressable peer "
            "IDs; the model field also accepts AgentName or Model engine strings as routing "
            "shortcuts (not listed because they have no stable identity in a federated mesh).",
        ) from None


class Dispatched:
    """The worker's answer to one task: its ``/api/execute`` body bytes."""

    def __init__(self, state: GatewayState, snap: Any, run: OpenRun | None) -> None:
        self.state = state
        self.peer_id: str = snap.peer_id
        self.task_id = run.task_id if run is not None else mint_task_id()
        self._run = run
        self._busy = capacity_line(snap.current_tasks, snap.max_tasks)

    async def body(self) -> AsyncGenerator[bytes, None]:
        if self._run is None:  # the worker refused it: its capacity line is the whole answer
            yield self._busy
            return
        async with aclosing(self._run.api_body()) as body:
            async for chunk in body:
                yield chunk

    async def aclose(self) -> None:
        if self._run is not None:
            await self._run.close((None, None, None), "openai")


async def _dispatch(state: GatewayState, model: str, prompt: str) -> Dispatched:
    snap = _route(state, model)
    task_id = mint_task_id()
    try:
        run: OpenRun | None = await open_run(state, snap.peer_id, prompt, task_id)
    except WorkerBusy:  # filled up between routing and dialling
        state.metrics.capacity_rejected()
        run = None
    except UnknownWorker as exc:
        raise _refuse(502, "worker_unreachable", f"failed to reach worker: {exc.message}") from None
    return Dispatched(state, snap, run)


# -- answers -------------------------------------------------------------------------------


async def _limited(source: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    left = limit
    async for chunk in source:
        if len(chunk) >= left:
            yield chunk[:left]
            return
        left -= len(chunk)
        yield chunk


async def _collect(task: Dispatched) -> str:
    """The whole answer, as ``drainTaskStream`` reads it (first 16 MiB of the stream)."""
    parts: list[str] = []
    body = task.body()
    async with (
        aclosing(body),
        aclosing(filtered_lines(_limited(body, MAX_RESPONSE_BYTES))) as lines,
    ):
        async for line in lines:
            parts.append(line + "\n")
    return "".join(parts)


class _Frames:
    """Pre-serialised halves of the SSE frames, so a line costs one small ``go_dumps``."""

    def __init__(self, chat: bool, model: str, task: Dispatched, completion_id: str) -> None:
        self.chat = chat
        created = int(time.time())
        head = b'data: {"id":' + go_dumps(completion_id)
        if chat:
            head += b',"object":"chat.completion.chunk","created":%d,"model":' % created
            tail = b',"agentfm_peer_id":' + go_dumps(task.peer_id)
            tail += b',"agentfm_task_id":' + go_dumps(task.task_id) + b"}\n\n"
            self._pre = head + go_dumps(model) + b',"choices":[{"index":0,"delta":'
            self._mid_null = b',"finish_reason":null}]' + tail
            self._mid_stop = b',"finish_reason":"stop"}]' + tail
        else:
            head += b',"object":"text_completion","created":%d,"model":' % created
            self._pre = head + go_dumps(model) + b',"choices":[{"index":0,"text":'
            self._mid_null = b',"finish_reason":null}]}\n\n'
            self._mid_stop = b',"finish_reason":"stop"}]}\n\n'

    def _payload(self, text: str, role: str = "") -> bytes:
        if self.chat:
            return b'{"role":' + go_dumps(role) + b',"content":' + go_dumps(text) + b"}"
        return go_dumps(text)

    def first(self) -> bytes:
        return self._pre + self._payload("", "assistant") + self._mid_null if self.chat else b""

    def line(self, text: str) -> bytes:
        return self._pre + self._payload(text) + self._mid_null

    def last(self, text: str = "") -> bytes:
        return self._pre + self._payload(text) + self._mid_stop


async def _sse_body(
    state: GatewayState, task: Dispatched, frames: _Frames, counted: bool
) -> AsyncGenerator[bytes, None]:
    started = time.monotonic()
    status = "error"
    try:
        first = frames.first()
        if first:
            yield first
        try:
            body = task.body()
            async with aclosing(body), aclosing(filtered_lines(body)) as lines:
                async for line in lines:
                    yield frames.line(line + "\n")
        except TokenTooLong as exc:
            yield frames.last(f"\n[stream error: {exc}]\n") + _DONE
            return
        status = "ok"
        yield frames.last() + _DONE
    finally:
        await task.aclose()
        if counted:
            state.metrics.task(status, time.monotonic() - started)


async def _answer(
    request: Request, state: GatewayState, task: Dispatched, req: dict[str, Any], chat: bool
) -> Response | WatchedStream:
    model: str = req["model"]
    cid = mint_task_id("chatcmpl-" if chat else "cmpl-")
    if req["stream"]:
        return WatchedStream(
            _sse_body(state, task, _Frames(chat, model, task, cid), counted=chat),
            state=state,
            media_type="text/event-stream",
            shutdown_tail=_SHUTDOWN_TAIL,
            release=task.aclose,  # also when the client left before the body started
        )
    started = time.monotonic()
    try:
        text = await unless_abandoned(_collect(task), request.receive, state)
    except Abandoned:
        await task.aclose()
        if chat:
            state.metrics.task("error", time.monotonic() - started)
        # only seen by a client that is still there, i.e. when the gateway is shutting down
        return error_response(
            502, "worker stream read failed: gateway shutting down", "worker_stream_failed"
        )
    except TokenTooLong as exc:
        await task.aclose()
        if chat:
            state.metrics.task("error", time.monotonic() - started)
        return error_response(502, f"worker stream read failed: {exc}", "worker_stream_failed")
    if chat:
        state.metrics.task("ok", time.monotonic() - started)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
    else:
        choice = {"index": 0, "text": text, "finish_reason": "stop"}
    body = {
        "id": cid,
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": dict(_USAGE),
    }
    return json_response(body)


async def chat_completions(request: Request) -> Response | WatchedStream:
    if request.method != "POST":
        return error_response(405, "POST only", "method_not_allowed")
    state = state_of(request)
    try:
        req = await _payload(request, state, CHAT_FIELDS)
        if not req["messages"]:
            raise _refuse(
                400, "prompt_required", "field 'messages' must contain at least one message"
            )
        task = await _dispatch(state, req["model"], render_chat_prompt(req["messages"]))
    except OpenAIRefused as refused:
        if refused.response.status_code == 502:  # the dial failed: a counted, failed task
            state.metrics.task("error", 0.0)
        return refused.response
    return await _answer(request, state, task, req, chat=True)


async def completions(request: Request) -> Response | WatchedStream:
    if request.method != "POST":
        return error_response(405, "POST only", "method_not_allowed")
    state = state_of(request)
    try:
        req = await _payload(request, state, COMPLETION_FIELDS)
        prompt = prompt_string(req["prompt"])
        task = await _dispatch(state, req["model"], prompt)
    except OpenAIRefused as refused:
        return refused.response
    return await _answer(request, state, task, req, chat=False)


routes = [
    route("/v1/models", list_models),
    route("/v1/chat/completions", chat_completions),
    route("/v1/completions", completions),
]
