"""Read-only reputation routes under ``/v1/peers/{id}``.

The embedded mesh keeps no ledger, so counts are zero and logs are empty, but the shapes and the
error codes are the real gateway's.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentfm_nb.mesh.peerid import is_valid_peer_id
from agentfm_nb.mesh.routes.common import error_response, json_response, state_of


class PeerRefused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _agent(request: Request) -> dict[str, Any]:
    peer_id = request.path_params["peer_id"]
    if not is_valid_peer_id(peer_id):
        raise PeerRefused(
            error_response(400, f"malformed peer id: {peer_id[:80]!r}", "bad_peer_id")
        )
    snap: Any = state_of(request).mesh.lookup(peer_id)
    if snap is None:
        raise PeerRefused(error_response(404, "peer not known to this gateway", "peer_not_found"))
    wire: dict[str, Any] = snap.to_wire()
    return wire


async def peer(request: Request) -> Response:
    try:
        agent = _agent(request)
    except PeerRefused as refused:
        return refused.response
    return json_response(
        {
            "peer_id": agent["peer_id"],
            "agent_name": agent.get("name", ""),
            "online": agent.get("online", True),
            "last_seen": agent.get("last_seen"),
            "honesty_score": agent.get("honesty_score", 0.5),
            "is_equivocator": agent.get("is_equivocator", False),
            "dispatch_allowed": agent.get("dispatch_allowed", True),
            "entries_count": 0,
            "last_entry_at": None,
            "rater_summary": {"verified_raters_count": 0, "unverified_raters_count": 0},
        }
    )


async def reputation(request: Request) -> Response:
    try:
        agent = _agent(request)
    except PeerRefused as refused:
        return refused.response
    return json_response(
        {
            "peer_id": agent["peer_id"],
            "scores": {"honesty": agent.get("honesty_score", 0.5)},
            "rating_count": 0,
            "last_updated": agent.get("last_seen"),
            "is_equivocator": agent.get("is_equivocator", False),
            "agent_image_ref": "",
            "agent_image_digest": "",
            "agent_capability": str(agent.get("hardware", "")).split(" (", 1)[0],
        }
    )


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > high:
        raise PeerRefused(
            error_response(
                400, f"{name} must be an integer in [0, {high}]", "invalid_request_error"
            )
        )
    return int(raw)


async def log(request: Request) -> Response:
    try:
        agent = _agent(request)
        limit = _int_param(request, "limit", 50, 1000)
        offset = _int_param(request, "offset", 0, 1 << 31)
    except PeerRefused as refused:
        return refused.response
    return json_response(
        {"peer_id": agent["peer_id"], "entries": [], "total": 0, "limit": limit, "offset": offset}
    )


routes = [
    Route("/v1/peers/{peer_id}", peer, methods=["GET"]),
    Route("/v1/peers/{peer_id}/reputation", reputation, methods=["GET"]),
    Route("/v1/peers/{peer_id}/log", log, methods=["GET"]),
]
