"""``GET /health``, ``GET /metrics`` and ``GET /v1/about``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentfm_nb.mesh.metrics import CONTENT_TYPE_LATEST
from agentfm_nb.mesh.routes.common import json_response, state_of


async def health(request: Request) -> Response:
    state = state_of(request)
    return json_response({"status": "ok", "online_workers": state.mesh.online_count})


async def metrics(request: Request) -> Response:
    state = state_of(request)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


async def about(request: Request) -> Response:
    state = state_of(request)
    mesh: Any = state.mesh
    body = {
        "boss_peer_id": state.boss_peer_id,
        # No relay or ledger in the embedded gateway: the fields keep the real shape.
        "relay_peer_id": "",
        "relay_multiaddr": "",
        "reputation_floor": float(getattr(mesh, "reputation_floor", 0.0) or 0.0),
        "ledger_tree_size": int(getattr(mesh, "ledger_tree_size", 0) or 0),
        "version": state.version,
        "uptime_seconds": round(state.uptime_s(), 3),
        "agentfm_backend": "embedded",
    }
    return json_response(body)


routes = [
    Route("/health", health, methods=["GET", "HEAD"]),
    Route("/metrics", metrics, methods=["GET", "HEAD"]),
    Route("/v1/about", about, methods=["GET"]),
]
