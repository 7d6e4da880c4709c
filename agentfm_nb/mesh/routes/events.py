"""``GET /v1/events``: the mesh event bus as Server-Sent Events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentfm_nb.mesh.routes.common import (
    GatewayState,
    go_dumps,
    method_not_allowed,
    route,
    state_of,
    text_error,
)
from agentfm_nb.mesh.routes.streaming import WatchedStream


def sse_frame(name: str, data: Any) -> bytes:
    # the payload is a Go map in the real gateway: sorted keys
    return b"event: " + name.encode() + b"\ndata: " + go_dumps(data, sort_keys=True) + b"\n\n"


async def _event_body(state: GatewayState, bus: Any) -> AsyncGenerator[bytes, None]:
    async with bus.subscribe() as sub:
        yield b":ready\n\n"
        while True:
            try:
                event = await asyncio.wait_for(sub.__anext__(), state.heartbeat_s)
            except asyncio.TimeoutError:
                yield b":heartbeat\n\n"
                continue
            except StopAsyncIteration:
                return
            yield sse_frame(event.name, event.data)


async def events(request: Request) -> Response | WatchedStream:
    if request.method != "GET":
        return method_not_allowed()
    state = state_of(request)
    bus = getattr(state.mesh, "events", None)
    if bus is None:
        return text_error(503, "events disabled")
    return WatchedStream(_event_body(state, bus), state=state, media_type="text/event-stream")


routes = [route("/v1/events", events)]
