"""``/v1/peers/*`` (``boss/api_reputation.go:handlePeers``) and the ``/ui/peer/`` page.

The embedded mesh keeps no ledger. The read routes answer as a real boss whose ledger is empty
(zero counts, empty logs, no proofs); the routes that would write to a ledger or read comment
bodies answer the real "not wired on this boss" errors.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from agentfm_nb.mesh.peerid import is_valid_peer_id
from agentfm_nb.mesh.routes.common import (
    error_response,
    json_response,
    route,
    state_of,
    text_error,
)

_PREFIX = "/v1/peers/"
_MAX_LOG_LIMIT = 500
_DEFAULT_LOG_LIMIT = 50
_MAX_LOG_OFFSET = 1_000_000
# an unknown peer's honesty: the reputation engine's score for a peer it never rated
_UNRATED_HONESTY = 0.0


class PeerRefused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _refuse(status: int, code: str, message: str) -> PeerRefused:
    return PeerRefused(error_response(status, message, code))


def _peer_id(path: str, suffix: str) -> str:
    """``extractPeerID``: the id between the prefix and ``suffix`` (or the next slash)."""
    rest = path[len(_PREFIX) :]
    if suffix:
        index = rest.find(suffix)
        return rest[:index] if index > 0 else ""
    return rest.split("/", 1)[0]


def _decoded(path: str, suffix: str) -> str:
    peer_id = _peer_id(path, suffix)
    if not peer_id:
        raise _refuse(400, "bad_request", "missing peer_id in path")
    if not is_valid_peer_id(peer_id):
        message = f"failed to parse peer ID: malformed peer id: {peer_id[:80]!r}"
        raise _refuse(400, "bad_peer_id", message)
    return peer_id


def _uint_query(request: Request, name: str, default: int) -> int:
    """``parseUintQuery``: the first value as an unsigned integer, else the default."""
    values = request.query_params.getlist(name)
    raw = values[0] if values else ""
    if not raw or not raw.isascii() or not raw.isdigit():
        return default
    value = int(raw)
    return value if value < 1 << 64 else default


def _online(request: Request, peer_id: str) -> Any:
    snap: Any = state_of(request).mesh.lookup(peer_id)
    return snap if snap is not None and getattr(snap, "online", True) else None


def summary(request: Request, peer_id: str) -> dict[str, Any]:
    snap = _online(request, peer_id)
    body: dict[str, Any] = {"peer_id": peer_id, "agent_name": ""}
    honesty = _UNRATED_HONESTY
    if snap is not None:
        body["agent_name"] = snap.name
        if snap.author:
            body["author"] = snap.author
        if snap.description:
            body["description"] = snap.description
        honesty = snap.honesty_score
    body["online"] = snap is not None
    if snap is not None:
        body["last_seen"] = snap.last_seen
    body.update(
        {
            "honesty_score": honesty,
            "is_equivocator": False,
            "dispatch_allowed": True,
            "entries_count": 0,
            "rater_summary": {"verified_raters_count": 0, "unverified_raters_count": 0},
        }
    )
    return body


def reputation(request: Request, peer_id: str) -> dict[str, Any]:
    snap = _online(request, peer_id)
    honesty = snap.honesty_score if snap is not None else _UNRATED_HONESTY
    # no ratings: no last_updated; no image or capability advertised: omitted
    return {
        "peer_id": peer_id,
        "scores": {"honesty": honesty},
        "rating_count": 0,
        "is_equivocator": False,
    }


def peer_log(request: Request, peer_id: str) -> dict[str, Any]:
    limit = _uint_query(request, "limit", _DEFAULT_LOG_LIMIT)
    if limit <= 0 or limit >= 1 << 63:
        limit = _DEFAULT_LOG_LIMIT
    limit = min(limit, _MAX_LOG_LIMIT)
    # the offset is clamped to the entries there are, and there are none
    _uint_query(request, "offset", 0)
    return {"subject": peer_id, "limit": limit, "offset": 0, "returned": 0, "entries": []}


def _only_get(request: Request) -> None:
    if request.method != "GET":
        raise _refuse(405, "method_not_allowed", "only GET supported")


def _only_post(request: Request) -> None:
    if request.method != "POST":
        raise _refuse(405, "method_not_allowed", "only POST supported")


def _no_ledger() -> PeerRefused:
    return _refuse(503, "ledger_unavailable", "ledger not wired on this boss")


def _proof(request: Request) -> Response:
    entry = (request.query_params.getlist("entry") or [""])[0]
    if not entry:
        raise _refuse(400, "bad_request", "missing entry query parameter")
    try:
        ok = len(bytes.fromhex(entry)) == 32 and len(entry) == 64
    except ValueError:
        ok = False
    if not ok:
        raise _refuse(400, "bad_request", "entry must be a 64-char hex string")
    raise _refuse(404, "entry_not_found", "ledger: entry not in local log")


def _dispatch(request: Request) -> Response:
    path = request.url.path
    if path.endswith("/reputation"):
        _only_get(request)
        return json_response(reputation(request, _decoded(path, "/reputation")), escape_html=False)
    if path.endswith("/log"):
        _only_get(request)
        return json_response(peer_log(request, _decoded(path, "/log")), escape_html=False)
    if path.endswith("/proof"):
        _only_get(request)
        return _proof(request)
    if path.endswith("/comments/self") or path.endswith("/comments"):
        _only_post(request)
        raise _no_ledger()
    if "/comments/" in path:
        _only_get(request)
        raise _refuse(503, "comments_unavailable", "comments store not wired on this boss")
    rest = path[len(_PREFIX) :]
    if rest and "/" not in rest:
        _only_get(request)
        return json_response(summary(request, _decoded(path, "")), escape_html=False)
    raise _refuse(404, "not_found", "unknown peers sub-resource")


async def peers(request: Request) -> Response:
    try:
        return _dispatch(request)
    except PeerRefused as refused:
        return refused.response


_PEER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AgentFM peer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px ui-monospace,monospace;margin:2rem;background:#111;color:#ddd}
pre{white-space:pre-wrap;background:#1b1b1b;padding:1rem;border-radius:6px}</style></head>
<body><h1>Peer</h1><p id="who"></p><h2>Reputation</h2><pre id="rep">loading</pre>
<h2>Ledger log</h2><pre id="log">loading</pre>
<script>
const id = decodeURIComponent(location.pathname.replace(/^\\/ui\\/peer\\/?/, "").split("/")[0]);
document.getElementById("who").textContent = id || "missing peer id in URL";
async function show(el, url) {
  try { const r = await fetch(url); el.textContent = JSON.stringify(await r.json(), null, 2); }
  catch (e) { el.textContent = String(e); }
}
if (id) {
  show(document.getElementById("rep"), "/v1/peers/" + encodeURIComponent(id) + "/reputation");
  show(document.getElementById("log"), "/v1/peers/" + encodeURIComponent(id) + "/log");
}
</script></body></html>
"""


async def peer_page(request: Request) -> Response:
    """``GET /ui/peer/{id}``: a static page that reads the peer routes from the browser."""
    if request.method != "GET":
        return text_error(405, "only GET")
    headers = {"cache-control": "no-store", "x-content-type-options": "nosniff"}
    return Response(_PEER_PAGE, media_type="text/html; charset=utf-8", headers=headers)


routes = [
    route("/v1/peers/{rest:path}", peers),
    route("/ui/peer/{rest:path}", peer_page),
]
