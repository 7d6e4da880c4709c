"""Bearer keys, the failed-attempt throttle, and the ``Origin`` and ``Host`` rules.

Facts from the real gateway (``boss/auth.go``, ``boss/api.go``): keys are compared as bytes in
constant time; the scheme is case-insensitive but the token is taken verbatim; two
``Authorization`` headers are malformed; only failures spend a per-IP token bucket (burst 30,
refill 0.5/s), so a valid key always passes.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import os
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from agentfm_nb.errors import AgentFMError

MIN_KEY_BYTES = 16
FAIL_BURST = 30.0
FAIL_REFILL_PER_S = 30.0 / 60.0
_WHITESPACE = " \t\n\r\v\f"


def parse_api_keys(raw: str | None) -> list[str]:
    """Split ``AGENTFM_API_KEYS``: trimmed, empty parts skipped, duplicates dropped.

    Any key under 16 bytes refuses the start; the message never echoes a key.
    """
    raw = (raw or "").strip()
    if not raw:
        return []
    keys: list[str] = []
    for index, part in enumerate(raw.split(","), start=1):
        key = part.strip()
        if not key:
            continue
        if len(key.encode("utf-8", "surrogateescape")) < MIN_KEY_BYTES:
            raise AgentFMError(
                f"AGENTFM_API_KEYS: key #{index} is shorter than {MIN_KEY_BYTES} bytes; "
                "refusing to start with a weak key",
                code="invalid_api_keys",
            )
        if key not in keys:
            keys.append(key)
    return keys


class KeyRing:
    """Constant-time membership test over every configured key (no first-match exit)."""

    def __init__(self, keys: Iterable[str]) -> None:
        # Comparing fixed-length digests keeps the timing independent of each key's length.
        self._digests = [
            hashlib.sha256(k.encode("utf-8", "surrogateescape")).digest() for k in keys
        ]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self._digests)} keys>)"

    def check(self, token: bytes) -> bool:
        presented = hashlib.sha256(token).digest()
        ok = False
        for digest in self._digests:
            ok |= hmac.compare_digest(presented, digest)
        return ok


class FailedAttemptThrottle:
    """A token bucket per client IP, spent only by failed attempts."""

    def __init__(
        self,
        burst: float = FAIL_BURST,
        refill_per_s: float = FAIL_REFILL_PER_S,
        max_ips: int = 4096,
    ) -> None:
        self.burst = burst
        self.refill_per_s = refill_per_s
        self.max_ips = max_ips
        # ip -> (tokens, last seen); ordered by last use so the coldest is evicted first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow_failure(self, ip: str, now: float | None = None) -> bool:
        """Spend one unit for a failure; False (answer 429) when the bucket is empty."""
        now = time.monotonic() if now is None else now
        entry = self._buckets.pop(ip, None)
        if entry is None:
            while len(self._buckets) >= self.max_ips:
                self._buckets.popitem(last=False)
            tokens = self.burst
        else:
            tokens = min(self.burst, entry[0] + (now - entry[1]) * self.refill_per_s)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[ip] = (tokens, now)
        return allowed


@dataclass(frozen=True)
class AuthFailure:
    outcome: str  # metric label: missing / malformed / invalid
    message: str

    @property
    def code(self) -> str:
        return "invalid_api_key" if self.outcome == "invalid" else "unauthorized"


MULTIPLE = AuthFailure("malformed", "multiple Authorization headers")
_MISSING = AuthFailure("missing", "missing or malformed Bearer token")
_MALFORMED = AuthFailure("malformed", "missing or malformed Bearer token")
_INVALID = AuthFailure("invalid", "invalid API key")


def check_bearer(keys: KeyRing, header: bytes) -> AuthFailure | None:
    """Check one ``Authorization`` value: ``bearer `` in any case, then the token verbatim."""
    value = header.strip(_WHITESPACE.encode())
    if not value:
        return _MISSING
    if len(value) < 7 or value[:7].lower() != b"bearer ":
        return _MALFORMED
    token = value[7:]
    if not token.strip(_WHITESPACE.encode()):
        return _MALFORMED
    return None if keys.check(token) else _INVALID


def _hostname(netloc: str) -> str:
    """``url.URL.Hostname()``: no userinfo, no port, no brackets, case kept."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host[1:]
    colon = host.rfind(":")
    if colon >= 0 and (host[colon + 1 :].isdigit() or colon == len(host) - 1):
        return host[:colon]
    return host


def allow_file_origin() -> bool:
    return os.environ.get("AGENTFM_ALLOW_FILE_ORIGIN") == "1"


def origin_allowed(origin: str) -> bool:
    """May a request with this ``Origin`` change state? (``api.go:originAllowed``)"""
    if origin == "":
        return True
    if origin == "null":
        return allow_file_origin()
    scheme, sep, rest = origin.partition(":")
    if not sep or not scheme or not (scheme[0].isalpha()):
        return False
    if scheme.lower() == "file":
        return allow_file_origin()
    if not rest.startswith("//"):
        return False
    netloc = rest[2:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return _hostname(netloc) in ("localhost", "127.0.0.1", "::1")


@functools.lru_cache(maxsize=256)  # a gateway sees a handful of Host values
def loopback_host(host: str) -> bool:
    """Is a ``Host`` header a loopback name or address (with or without a port)?"""
    name = _hostname(host).rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


__all__ = [
    "MULTIPLE",
    "AuthFailure",
    "FailedAttemptThrottle",
    "KeyRing",
    "allow_file_origin",
    "check_bearer",
    "loopback_host",
    "origin_allowed",
    "parse_api_keys",
]
