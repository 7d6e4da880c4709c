"""OpenAI-compatible routes: ``/v1/models``, ``/v1/chat/completions``, ``/v1/completions``."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentfm_nb.mesh.agents.base import batch_text
from agentfm_nb.mesh.refusals import RouteError, UnknownWorker, WorkerBusy
from agentfm_nb.mesh.routes.common import (
    BodyTooLarge,
    GatewayState,
    dumps,
    envelope,
    error_response,
    json_response,
    read_body,
    state_of,
)
from agentfm_nb.mesh.routes.streaming import Abandoned, WatchedStream, unless_abandoned
from agentfm_nb.mesh.routes.tasks import OpenRun, mint_task_id, open_run
from agentfm_nb.wire import MARKER_PREFIX

_SHUTDOWN_TAIL = (
    b"data: " + dumps(envelope("the gateway is shutting down", "worker_stream_failed")) + b"\n\n"
    b"data: [DONE]\n\n"
)
_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
_MODEL_FIELDS = (
    ("agentfm_name", "name"),
    ("agentfm_status", "status"),
    ("agentfm_hardware", "hardware"),
    ("agentfm_current_tasks", "current_tasks"),
    ("agentfm_max_tasks", "max_tasks"),
    ("agentfm_cpu_usage_pct", "cpu_usage_pct"),
    ("agentfm_ram_free_gb", "ram_free_gb"),
    ("agentfm_has_gpu", "has_gpu"),
    ("agentfm_gpu_used_gb", "gpu_used_gb"),
    ("agentfm_gpu_total_gb", "gpu_total_gb"),
    ("agentfm_gpu_usage_pct", "gpu_usage_pct"),
    ("agentfm_honesty_score", "honesty_score"),
    ("agentfm_is_equivocator", "is_equivocator"),
    ("agentfm_dispatch_allowed", "dispatch_allowed"),
    ("agentfm_online", "online"),
)


class OpenAIRefused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def engine_of(hardware: str) -> str:
    return hardware.split(" (", 1)[0]


def model_entry(agent: dict[str, Any], created: int) -> dict[str, Any]:
    engine = engine_of(str(agent.get("hardware", "")))
    entry: dict[str, Any] = {
        "id": agent["peer_id"],
        "object": "model",
        "created": created,
        "owned_by": agent.get("author") or "agentfm",
        "description": f"{agent.get('name', '')} · {engine} — {agent.get('description', '')}",
        "agentfm_engine": engine,
    }
    for out_key, wire_key in _MODEL_FIELDS:
        entry[out_key] = agent.get(wire_key)
    return entry


async def list_models(request: Request) -> Response:
    state = state_of(request)
    version = state.mesh.version
    cached = state.models_cache
    if cached is None or cached[0] != version:
        created = int(time.time() - state.uptime_s())
        agents = state.mesh.wire_agents(include_offline=False)
        data = [model_entry(agent, created) for agent in agents]
        cached = state.models_cache = (version, dumps({"object": "list", "data": data}))
    return Response(cached[1], media_type="application/json")


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    return ""


def render_chat_prompt(messages: list[Any]) -> str:
    """``"<role>: <content>\\n\\n"`` for each message with content, then ``"assistant:"``."""
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = _message_text(message.get("content"))
        if not text:
            continue
        role = message.get("role") or "user"
        parts.append(f"{role}: {text}\n\n")
    parts.append("assistant:")
    return "".join(parts)


async def _payload(request: Request, state: GatewayState) -> dict[str, Any]:
    try:
        raw = await read_body(request, state.openai_body_cap)
    except BodyTooLarge:
        raise OpenAIRefused(
            error_response(
                413, f"request body over {state.openai_body_cap} bytes", "request_too_large"
            )
        ) from None
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        raise OpenAIRefused(error_response(400, "invalid JSON body", "invalid_request_error"))
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise OpenAIRefused(error_response(400, "model is required", "model_required"))
    return payload


async def _dispatch(state: GatewayState, model: str, prompt: str) -> OpenRun:
    try:
        snap: Any = state.mesh.route(model)
    except RouteError as exc:
        code = exc.code or "model_not_found"
        status = 404 if code == "model_not_found" else 503
        raise OpenAIRefused(error_response(status, exc.message, code)) from None
    try:
        return await open_run(state, snap.peer_id, prompt, mint_task_id())
    except WorkerBusy:
        raise OpenAIRefused(
            error_response(503, f"every worker for {model!r} is at capacity", "mesh_overloaded")
        ) from None
    except UnknownWorker:
        raise OpenAIRefused(
            error_response(502, f"worker for {model!r} went away", "worker_unreachable")
        ) from None


def _clean(batch: list[str]) -> list[str]:
    if MARKER_PREFIX not in batch_text(batch):  # one C-level scan for the usual batch
        return batch
    return [line for line in batch if not line.lstrip(" \t").startswith(MARKER_PREFIX)]


async def _collect(run: OpenRun) -> str:
    parts: list[str] = []
    async with aclosing(run.batches("openai")) as batches:
        async for batch in batches:
            parts.extend(line + "\n" for line in _clean(batch))
    return "".join(parts)


class _Frames:
    """Pre-serialised SSE frame halves, so each line costs one small ``orjson.dumps``."""

    def __init__(self, kind: str, model: str, run: OpenRun, completion_id: str) -> None:
        self.chat = kind == "chat"
        head = {
            "id": completion_id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": int(time.time()),
            "model": model,
            "agentfm_peer_id": run.peer_id,
            "agentfm_task_id": run.task_id,
        }
        self._head = head
        head_json = dumps(head)[:-1]  # drop the closing brace, choices follow
        if self.chat:
            self._pre = b"data: " + head_json + b',"choices":[{"index":0,"delta":{"content":'
            self._post = b'},"logprobs":null,"finish_reason":null}]}\n\n'
        else:
            self._pre = b"data: " + head_json + b',"choices":[{"index":0,"text":'
            self._post = b',"logprobs":null,"finish_reason":null}]}\n\n'

    def frame(self, choice: dict[str, Any]) -> bytes:
        return b"data: " + dumps({**self._head, "choices": [choice]}) + b"\n\n"

    def first(self) -> bytes:
        if not self.chat:
            return b""
        return self.frame(
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        )

    def lines(self, batch: list[str]) -> bytes:
        return b"".join(self._pre + dumps(line + "\n") + self._post for line in batch)

    def last(self) -> bytes:
        if self.chat:
            choice: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": "stop"}
        else:
            choice = {"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}
        return self.frame(choice)


async def _sse_body(run: OpenRun, frames: _Frames) -> AsyncGenerator[bytes, None]:
    first = frames.first()
    if first:
        yield first
    async with aclosing(run.batches("openai")) as batches:
        async for batch in batches:
            cleaned = _clean(batch)
            if cleaned:
                yield frames.lines(cleaned)
    if run.run.status != "ok":
        error = envelope(run.run.error or "agent failed", "worker_stream_failed")
        yield b"data: " + dumps(error) + b"\n\n"
    else:
        yield frames.last()
    yield b"data: [DONE]\n\n"


def _stream(state: GatewayState, run: OpenRun, kind: str, model: str, cid: str) -> WatchedStream:
    return WatchedStream(
        _sse_body(run, _Frames(kind, model, run, cid)),
        state=state,
        media_type="text/event-stream; charset=utf-8",
        headers={"x-agentfm-task-id": run.task_id},
        shutdown_tail=_SHUTDOWN_TAIL,
    )


def _abandoned() -> Response:
    # Only seen by a client that is still there, i.e. when the gateway is shutting down.
    return error_response(503, "the gateway is shutting down", "internal_error")


def _failed(run: OpenRun) -> Response:
    return error_response(502, run.run.error or "agent failed", "worker_stream_failed")


async def _answer(
    request: Request, state: GatewayState, run: OpenRun, payload: dict[str, Any], kind: str
) -> Response | WatchedStream:
    """The streamed or buffered answer of a dispatched completion (``kind`` chat or text)."""
    model: str = payload["model"]
    cid = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex}"
    if payload.get("stream"):
        return _stream(state, run, kind, model, cid)
    try:
        text = await unless_abandoned(_collect(run), request.receive, state)
    except Abandoned:
        return _abandoned()
    if run.run.status != "ok":
        return _failed(run)
    choice: dict[str, Any]
    if kind == "chat":
        obj = "chat.completion"
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
    else:
        obj = "text_completion"
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
    return json_response(
        {
            "id": cid,
            "object": obj,
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": dict(_USAGE),
            "agentfm_peer_id": run.peer_id,
            "agentfm_task_id": run.task_id,
        }
    )


async def chat_completions(request: Request) -> Response | WatchedStream:
    state = state_of(request)
    try:
        payload = await _payload(request, state)
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            return error_response(400, "messages is required", "prompt_required")
        prompt = render_chat_prompt(messages)
        if prompt == "assistant:":
            return error_response(400, "messages carry no content", "prompt_required")
        run = await _dispatch(state, payload["model"], prompt)
    except OpenAIRefused as refused:
        return refused.response
    return await _answer(request, state, run, payload, "chat")


async def completions(request: Request) -> Response | WatchedStream:
    state = state_of(request)
    try:
        payload = await _payload(request, state)
        prompt = payload.get("prompt")
        if isinstance(prompt, list):
            return error_response(
                400, "prompt must be a string (arrays are not supported)", "unsupported_prompt_type"
            )
        if not isinstance(prompt, str) or not prompt:
            return error_response(400, "prompt is required", "prompt_required")
        run = await _dispatch(state, payload["model"], prompt)
    except OpenAIRefused as refused:
        return refused.response
    return await _answer(request, state, run, payload, "text")


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
]
