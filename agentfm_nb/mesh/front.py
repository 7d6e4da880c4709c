"""What happens to a request before any route sees it, in the real gateway's order.

``api.go:StartAPIServer`` registers each route on a ``ServeMux`` wrapped in CORS, then the
``Origin`` gate, then bearer auth; ``/metrics`` gets CORS only; ``/health`` and ``/ui/peer/``
nothing. The mux itself answers unknown paths (``404 page not found``) and redirects unclean
paths and subtree roots (``/v1/peers`` -> ``/v1/peers/``) before any of that. One plain ASGI
middleware does all of it so an authorised request pays one dictionary lookup and a header scan.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from enum import Enum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentfm_nb.mesh.auth import (
    MULTIPLE,
    AuthFailure,
    FailedAttemptThrottle,
    KeyRing,
    check_bearer,
    loopback_host,
    origin_allowed,
)
from agentfm_nb.mesh.metrics import GatewayMetrics
from agentfm_nb.mesh.routes.common import envelope, go_dumps


class Guard(Enum):
    PROTECTED = "protected"  # CORS + Origin + auth
    CORS = "cors"  # CORS + Origin (/metrics)
    OPEN = "open"  # nothing (/health, /ui/peer/)


PROTECTED_PATHS = frozenset(
    {
        "/v1/about",
        "/v1/events",
        "/api/workers",
        "/api/execute",
        "/api/execute/async",
        "/api/relay/test",
        "/v1/models",
        "/v1/chat/completions",
        "/v1/completions",
    }
)
_SUBTREES = {"/v1/peers/": Guard.PROTECTED, "/ui/peer/": Guard.OPEN}
_EXACT = {
    **dict.fromkeys(PROTECTED_PATHS, Guard.PROTECTED),
    "/metrics": Guard.CORS,
    "/health": Guard.OPEN,
}
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type"),
]
_TEXT = b"text/plain; charset=utf-8"
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def guard_for(path: str) -> Guard | None:
    """Which wrapper the real mux puts around ``path`` (None: no route, a plain 404)."""
    guard = _EXACT.get(path)
    if guard is not None:
        return guard
    for prefix, subtree_guard in _SUBTREES.items():
        if path.startswith(prefix):
            return subtree_guard
    return None


def clean_path(path: str) -> str:
    """Go's ``cleanPath``: resolve ``.``/``..``/``//``, keep one trailing slash."""
    if path.startswith("/") and "//" not in path and "/." not in path:
        return path  # already clean: the common case, two substring scans
    if not path:
        return "/"
    if path[0] != "/":
        path = "/" + path
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(segment)
    cleaned = "/" + "/".join(parts)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _text(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [*extra, (b"content-type", _TEXT), _NOSNIFF]
    await _respond(send, status, text.encode() + b"\n", headers)


async def _redirect(scope: Scope, send: Send, target: str) -> None:
    query = scope.get("query_string", b"").decode("latin-1")
    location = target + (f"?{query}" if query else "")
    headers = [(b"location", location.encode("latin-1"))]
    body = b""
    if scope["method"] in ("GET", "HEAD"):
        headers.append((b"content-type", b"text/html; charset=utf-8"))
        body = f'<a href="{html.escape(location)}">Moved Permanently</a>.\n\n'.encode()
    await _respond(send, 301, body, headers)


class GatewayFront:
    """Mux decisions, CORS, the ``Origin`` gate, bearer auth and the DNS-rebinding guard."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: KeyRing,
        metrics: GatewayMetrics,
        throttle: FailedAttemptThrottle | None = None,
        host_guard: bool = False,
        fast: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.fast: dict[str, ASGIApp] = dict(fast or {})
        self.keys = keys
        self.metrics = metrics
        self.throttle = throttle or FailedAttemptThrottle()
        self.host_guard = host_guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if self.host_guard and not self._host_ok(headers):
            await _text(
                send,
                403,
                "request refused: the Host header is not a loopback name "
                "(DNS-rebinding guard of a keyless loopback gateway)",
                [],
            )
            return
        path: str = scope["path"]
        cleaned = clean_path(path)
        if cleaned != path:
            await _redirect(scope, send, cleaned)
            return
        if path + "/" in _SUBTREES:
            await _redirect(scope, send, path + "/")
            return
        guard = guard_for(path)
        if guard is None:
            await _text(send, 404, "404 page not found", [])
            return
        if guard is Guard.OPEN:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            await _respond(send, 200, b"", list(CORS_HEADERS))
            return
        if method not in ("GET", "HEAD"):
            origin = b""
            for name, value in headers:
                if name == b"origin":
                    origin = value
                    break
            if not origin_allowed(origin.decode("latin-1")):
                await _text(send, 403, "cross-origin request refused", list(CORS_HEADERS))
                return
        if guard is Guard.PROTECTED and self.keys:
            failure = self._authenticate(headers)
            if failure is not None:
                await self._refuse(scope, send, failure)
                return
            self.metrics.auth("ok")
        endpoint = self.fast.get(path)
        if endpoint is not None:
            # a raw ASGI endpoint of a hot path: it sends CORS_HEADERS first itself, saving a
            # wrapper around every send
            await endpoint(scope, receive, send)
            return
        await self.app(scope, receive, with_cors(send))

    def _host_ok(self, headers: list[tuple[bytes, bytes]]) -> bool:
        for name, value in headers:
            if name == b"host":
                return loopback_host(value.decode("latin-1"))
        return True  # HTTP/1.0 without Host: no browser sends that

    def _authenticate(self, headers: list[tuple[bytes, bytes]]) -> AuthFailure | None:
        values = [value for name, value in headers if name == b"authorization"]
        if len(values) > 1:
            return MULTIPLE
        return check_bearer(self.keys, values[0] if values else b"")

    async def _refuse(self, scope: Scope, send: Send, failure: AuthFailure) -> None:
        client = scope.get("client")
        ip = client[0] if client else ""
        extra = list(CORS_HEADERS)
        if self.throttle.allow_failure(ip):
            status, outcome = 401, failure.outcome
            body = envelope(failure.message, failure.code, kind="invalid_request_error")
        else:
            status, outcome = 429, "rate_limited"
            message = "too many failed auth attempts; slow down"
            body = envelope(message, "rate_limited", kind="invalid_request_error")
            extra.append((b"retry-after", b"60"))
        self.metrics.auth(outcome)
        extra.append((b"content-type", b"application/json"))
        await _respond(send, status, go_dumps(body) + b"\n", extra)


def with_cors(send: Send) -> Send:
    """``send`` with the CORS headers put first on the response's headers."""

    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*CORS_HEADERS, *message.get("headers", ())]}
        await send(message)

    return send_with_cors


__all__ = ["CORS_HEADERS", "GatewayFront", "Guard", "clean_path", "guard_for", "with_cors"]
