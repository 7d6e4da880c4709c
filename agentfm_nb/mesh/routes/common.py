"""State shared by the routes of one app, and the response helpers they all use."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

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
    }
)

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


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
    started: float = field(default_factory=time.monotonic)
    async_in_flight: int = 0
    background: set[asyncio.Task[None]] = field(default_factory=set)
    streams: set[asyncio.Future[Any]] = field(default_factory=set)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    boss_peer_id: str = ""
    # /v1/models body, rebuilt when the mesh version moves
    models_cache: tuple[int, bytes] | None = None

    def uptime_s(self) -> float:
        return time.monotonic() - self.started


def state_of(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status_code=status, media_type=JSON_TYPE, headers=headers)


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
    """The plain-text errors of the older ``/api/*`` routes."""
    return Response(message + "\n", status_code=status, media_type=TEXT_TYPE)


class BodyTooLarge(Exception):
    """The request body passed its cap."""


async def read_body(request: Request, cap: int) -> bytes:
    """Read the body, refusing (without buffering it all) anything over ``cap`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
