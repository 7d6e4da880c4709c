"""``GET /health``, ``/metrics`` (any method, as promhttp) and ``GET /v1/about``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentfm_nb.mesh.routes.common import json_response, method_not_allowed, route, state_of

# the reputation floor flag's default in the real gateway (``-reputation-floor``)
DEFAULT_REPUTATION_FLOOR = -0.5


async def health(request: Request) -> Response:
    if request.method != "GET":
        return method_not_allowed()
    state = state_of(request)
    return json_response({"online_workers": state.mesh.online_count, "status": "ok"})


async def metrics(request: Request) -> Response:
    state = state_of(request)
    body, headers = state.metrics.render(request.headers.get("accept-encoding", ""))
    return Response(body, headers=headers)


async def about(request: Request) -> Response:
    if request.method != "GET":
        return method_not_allowed()
    state = state_of(request)
    mesh: Any = state.mesh
    floor = getattr(mesh, "reputation_floor", None)
    body = {
        "boss_peer_id": state.boss_peer_id,
        # No relay or ledger in the embedded gateway: the fields keep the real shape.
        "relay_peer_id": "",
        "relay_multiaddr": "",
        "reputation_floor": float(DEFAULT_REPUTATION_FLOOR if floor is None else floor),
        "ledger_tree_size": int(getattr(mesh, "ledger_tree_size", 0) or 0),
        "version": state.version,
        "uptime_seconds": int(state.uptime_s()),
    }
    return json_response(body, escape_html=False)


routes = [
    route("/health", health),
    route("/metrics", metrics),
    route("/v1/about", about),
]
