"""State shared by the routes of one app, and the response helpers they all use."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from agentfm_nb.mesh.metrics import GatewayMetrics

if TYPE_CHECKING:
    from agentfm_nb.mesh.runtime import Mesh
    from agentfm_nb.mesh.webhooks import WebhookSender

# Errors the real gateway classifies as server-side; everything else is a request error.
_SERVER_ERROR_CODES = frozenset(
    {
        "internal_error",
        "mesh_overloaded",
        "async_capacity_exhausted",
        "worker_unreachable",
        "worker_stream_failed",
        "ledger_unavailable",
        "comments_unavailable",
    }
)

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
# What Go's http.Error adds to every plain-text error.
NOSNIFF = {"x-content-type-options": "nosniff"}
# encoding/json escapes these inside strings; they only ever occur inside strings.
_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


@dataclass
class GatewayState:
    """Everything one gateway app keeps between requests."""

    mesh: Mesh
    metrics: GatewayMetrics
    webhooks: WebhookSender
    version: str
    heartbeat_s: float = 15.0
    async_cap: int = 256
    api_body_cap: int = 1 << 20
    openai_body_cap: int = 1 << 20
    # how long an async task waits for its artifact zip before the webhook (real: 10 s)
    async_artifact_wait_s: float = 10.0
    started: float = field(default_factory=time.monotonic)
    async_in_flight: int = 0
    background: set[asyncio.Task[None]] = field(default_factory=set)
    streams: set[asyncio.Future[Any]] = field(default_factory=set)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    boss_peer_id: str = ""
    # /v1/models entries, rebuilt when the mesh version moves (``created`` is set per request)
    models_cache: tuple[int, list[dict[str, Any]]] | None = None
    # task ids with a task in flight: a second task with the same id is refused
    inflight: set[str] = field(default_factory=set)

    def uptime_s(self) -> float:
        return time.monotonic() - self.started


def state_of(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def go_dumps(obj: Any, *, escape_html: bool = True, sort_keys: bool = False) -> bytes:
    """JSON bytes as Go's ``json.Marshal`` writes them (HTML-safe escapes in strings; a Go map,
    unlike a struct, comes out with sorted keys)."""
    raw = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    if escape_html:
        for plain, escaped in _GO_ESCAPES:
            if plain in raw:
                raw = raw.replace(plain, escaped)
    return raw


def json_response(
    obj: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    escape_html: bool = True,
) -> Response:
    """A JSON answer as Go's ``json.NewEncoder(w).Encode`` writes it (trailing newline)."""
    body = go_dumps(obj, escape_html=escape_html) + b"\n"
    return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)


def envelope(message: str, code: str, *, kind: str | None = None) -> dict[str, Any]:
    """The OpenAI-style error envelope the gateway answers with."""
    if kind is None:
        kind = "server_error" if code in _SERVER_ERROR_CODES else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "code": code}}


def error_response(
    status: int, message: str, code: str, *, headers: dict[str, str] | None = None
) -> Response:
    return json_response(envelope(message, code), status, headers)


def text_error(status: int, message: str) -> Response:
    """A plain-text error as Go's ``http.Error`` writes it (newline, ``nosniff``)."""
    return Response(message + "\n", status_code=status, media_type=TEXT_TYPE, headers=NOSNIFF)


def method_not_allowed() -> Response:
    """The ``/api/*``, ``/health``, ``/v1/about`` and ``/v1/events`` answer to a wrong method."""
    return text_error(405, "Method not allowed")


async def read_limited(request: Request, cap: int) -> bytes:
    """At most ``cap`` bytes of the body, the rest left unread (Go's ``io.LimitReader``).

    A body over the cap is not refused here: cut short, it no longer parses, which is how the
    real gateway answers it (400 ``Invalid JSON payload``).
    """
    return await read_capped(request.receive, cap)


async def read_capped(receive: Receive, cap: int) -> bytes:
    """:func:`read_limited` on a raw ASGI ``receive`` (``ClientDisconnect`` if the client
    leaves mid-body, as ``Request.stream`` raises it)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        room = cap - size
        if len(chunk) >= room:
            chunks.append(chunk[:room])
            break
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _AnyMethod:
    """An endpoint as a plain ASGI app, so Starlette routes every method to it: the handlers
    answer a wrong method themselves, each in the real handler's words."""

    def __init__(self, endpoint: Any) -> None:
        self._app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def route(path: str, endpoint: Any) -> Route:
    return Route(path, _AnyMethod(endpoint))
