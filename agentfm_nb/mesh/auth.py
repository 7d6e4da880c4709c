"""Bearer-key auth, the failed-attempt throttle and the cross-site ``Origin`` gate.

A plain ASGI middleware rather than ``BaseHTTPMiddleware``: it adds nothing to the hot path of
authorised requests beyond one header scan, and never wraps streaming bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from agentfm_nb.errors import AgentFMError
from agentfm_nb.mesh.metrics import GatewayMetrics
from agentfm_nb.mesh.routes.common import dumps, envelope

MIN_KEY_LENGTH = 16
EXEMPT_PATHS = frozenset({"/health", "/metrics"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def parse_api_keys(raw: str | None) -> list[str]:
    """Split ``AGENTFM_API_KEYS``; refuse (without echoing it) any key shorter than 16 chars."""
    if not raw:
        return []
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for index, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_LENGTH:
            raise AgentFMError(
                f"AGENTFM_API_KEYS: key #{index} has {len(key)} characters; every key must have "
                f"at least {MIN_KEY_LENGTH}",
                code="invalid_api_keys",
            )
    return keys


class KeyRing:
    """Constant-time membership test over every configured key (no first-match exit)."""

    def __init__(self, keys: Iterable[str]) -> None:
        # Comparing fixed-length digests keeps the timing independent of each key's length.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self._digests)} keys>)"

    def check(self, token: str) -> bool:
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        ok = False
        for digest in self._digests:
            ok |= hmac.compare_digest(presented, digest)
        return ok


class FailedAttemptThrottle:
    """At most ``limit`` failed auth attempts per client IP in a sliding ``window_s``."""

    def __init__(self, limit: int = 30, window_s: float = 60.0, max_ips: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_ips = max_ips
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, ip: str, now: float) -> deque[float] | None:
        stamps = self._fails.get(ip)
        if stamps is None:
            return None
        horizon = now - self.window_s
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        if not stamps:
            del self._fails[ip]
            return None
        return stamps

    def blocked(self, ip: str) -> bool:
        stamps = self._recent(ip, time.monotonic())
        return stamps is not None and len(stamps) >= self.limit

    def record_failure(self, ip: str) -> None:
        now = time.monotonic()
        stamps = self._recent(ip, now)
        if stamps is None:
            stamps = self._fails[ip] = deque(maxlen=self.limit)
            while len(self._fails) > self.max_ips:
                self._fails.popitem(last=False)
        stamps.append(now)


def origin_allowed(origin: str, host: str | None) -> bool:
    """Same-origin or loopback browser origins pass; anything else is cross-site."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False  # "null" (sandboxed frames, file://) and garbage count as cross-site
    hostname = parts.hostname.lower()
    if hostname in _LOOPBACK_HOSTS or hostname.endswith(".localhost"):
        return True
    return host is not None and parts.netloc.lower() == host.lower()


def _headers(scope: Scope) -> Mapping[bytes, bytes]:
    # Last one wins, as in most servers; only a few headers are read here.
    return {k.lower(): v for k, v in scope.get("headers", ())}


async def _send_json(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Origin gate, then (when keys are configured) throttle and bearer-key check."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: KeyRing,
        metrics: GatewayMetrics,
        throttle: FailedAttemptThrottle | None = None,
    ) -> None:
        self.app = app
        self.keys = keys
        self.metrics = metrics
        self.throttle = throttle or FailedAttemptThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if scope["method"] not in _SAFE_METHODS:
            origin = headers.get(b"origin")
            if origin is not None:
                host = headers.get(b"host")
                if not origin_allowed(
                    origin.decode("latin-1"), host.decode("latin-1") if host else None
                ):
                    body = dumps(envelope("cross-site request refused", "forbidden_origin"))
                    await _send_json(send, 403, body, [])
                    return
        if self.keys:
            client = scope.get("client")
            ip = client[0] if client else "unknown"
            if self.throttle.blocked(ip):
                self.metrics.auth_attempts.labels(outcome="rate_limited").inc()
                body = dumps(envelope("too many failed authentication attempts", "rate_limited"))
                await _send_json(send, 429, body, [(b"retry-after", b"60")])
                return
            failure = self._check(headers.get(b"authorization"))
            if failure is not None:
                code, message, outcome = failure
                self.throttle.record_failure(ip)
                self.metrics.auth_attempts.labels(outcome=outcome).inc()
                await _send_json(
                    send,
                    401,
                    dumps(envelope(message, code)),
                    [(b"www-authenticate", b'Bearer realm="agentfm"')],
                )
                return
            self.metrics.auth_attempts.labels(outcome="ok").inc()
        await self.app(scope, receive, send)

    def _check(self, header: bytes | None) -> tuple[str, str, str] | None:
        if header is None:
            return ("unauthorized", "missing Authorization header", "missing")
        scheme, _, token = header.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return (
                "unauthorized",
                "malformed Authorization header (want: Bearer <key>)",
                "missing",
            )
        if not self.keys.check(token):
            return ("invalid_api_key", "invalid API key", "invalid")
        return None
