"""The retry policy both twins share (the SDK's: transient statuses and transport blips).

Statuses 408/429/500/502/503/504 and connection-level failures are retried with exponential
backoff plus jitter (base 0.5 s, as agentfm-sdk 0.3.0). A ``Retry-After`` the gateway sends with
429/503 replaces the backoff, capped so a misbehaving server cannot park a notebook cell.
Streams (``/api/execute``, OpenAI ``stream=True``) only retry failures to *connect*: those
requests never left, so no task can run twice.
"""

from __future__ import annotations

import email.utils
import random
import time

import httpx

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# What the SDK retries, plus ConnectTimeout (the gateway is still starting up).
RETRYABLE_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.PoolTimeout,
)
CONNECT_ERRORS: tuple[type[httpx.HTTPError], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
# A stream's request that fails like this *before any answer* met a keep-alive connection the
# gateway had just closed (EPIPE, "server disconnected without sending a response"): one fresh
# try, on a new connection. Any byte of an answer makes the failure final.
STALE_ERRORS: tuple[type[httpx.HTTPError], ...] = (
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)
BACKOFF_BASE_S = 0.5
RETRY_AFTER_CAP_S = 10.0


def backoff(attempt: int, base: float | None = None) -> float:
    base = BACKOFF_BASE_S if base is None else base
    return float(base * (2**attempt) + random.uniform(0, base * 0.5))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_delay(attempt: int, response: httpx.Response) -> float:
    """Wait before retrying a transient status: the server's ``Retry-After`` when it gave one."""
    if response.status_code in (429, 503):
        hinted = parse_retry_after(response.headers.get("retry-after"))
        if hinted is not None:
            return min(hinted, RETRY_AFTER_CAP_S)
    return backoff(attempt)


__all__ = [
    "BACKOFF_BASE_S",
    "CONNECT_ERRORS",
    "RETRYABLE_ERRORS",
    "RETRY_AFTER_CAP_S",
    "RETRY_STATUSES",
    "STALE_ERRORS",
    "backoff",
    "parse_retry_after",
    "status_delay",
]
