"""HTTP answers and httpx exceptions to the SDK's typed errors (no raw httpx error escapes).

The mapping follows agentfm-sdk 0.3.0: an error envelope's ``code`` picks the class (an unknown
or missing code is plain ``AgentFMError``, whatever the status); a body that is not an envelope
is ``GatewayProtocolError`` for 5xx and ``WorkerNotFoundError`` for 404. Plain-text 4xx keep a
more precise class here (401 → ``AuthenticationError``, others ``InvalidRequestError``), all of
them still ``AgentFMError`` subclasses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpcore
import httpx

from agentfm_nb.client._retry import CONNECT_ERRORS, parse_retry_after
from agentfm_nb.errors import (
    ERROR_CODES,
    AgentFMError,
    AuthenticationError,
    GatewayConnectionError,
    GatewayProtocolError,
    InvalidRequestError,
    WorkerNotFoundError,
    WorkerStreamError,
)

_BAD_URL_ERRORS = (httpx.UnsupportedProtocol, httpx.InvalidURL, httpcore.UnsupportedProtocol)


def _envelope_error(decoded: dict[str, Any], status: int) -> AgentFMError:
    err = decoded["error"]
    code = err.get("code") if isinstance(err.get("code"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else "unknown error"
    cls = ERROR_CODES.get(code, AgentFMError) if code else AgentFMError
    if cls is AgentFMError and code is None and status == 404:
        cls = WorkerNotFoundError
    return cls(str(message), code=code, status=status)


def _plain_text_error(status: int, text: str) -> AgentFMError:
    msg = text.strip()[:500]
    if status == 404:
        return WorkerNotFoundError(msg or "worker not found", code="worker_not_found", status=404)
    if status >= 500 or status < 400:
        return GatewayProtocolError(f"unexpected status {status}: {msg[:200]}", status=status)
    msg = msg or f"HTTP {status}"
    if status == 401:
        return AuthenticationError(msg, code="unauthorized", status=status)
    if status == 403:
        code = "dispatch_refused" if msg.startswith("dispatch refused") else "forbidden"
        return InvalidRequestError(msg, code=code, status=status)
    if status == 429:
        return InvalidRequestError(msg, code="rate_limited", status=status)
    return InvalidRequestError(msg, code="invalid_request_error", status=status)


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> AgentFMError:
    """The typed error of a non-2xx answer (JSON envelope or plain text)."""
    ctype = headers.get("content-type", "")
    if "json" in ctype or body.lstrip().startswith(b"{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
            err = _envelope_error(decoded, status)
            if hasattr(err, "retry_after"):
                err.retry_after = parse_retry_after(headers.get("retry-after"))
            return err
        if "json" in ctype:
            return GatewayProtocolError(
                f"unparseable error envelope (HTTP {status})", status=status
            )
    return _plain_text_error(status, body.decode("utf-8", "replace"))


def scrub(exc: BaseException) -> None:
    """Drop the Authorization header from the request an httpx exception carries.

    ``raise ... from None`` only hides the httpx exception: it stays reachable as the typed
    error's ``__context__``, and its ``.request`` holds the bearer key.
    """
    request = getattr(exc, "_request", None)
    if isinstance(request, httpx.Request) and "authorization" in request.headers:
        headers = request.headers.copy()
        headers["authorization"] = "[redacted]"
        exc._request = httpx.Request(  # type: ignore[attr-defined]
            request.method, request.url, headers=headers, extensions=request.extensions
        )


def bad_url_error(exc: Exception, base_url: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"invalid gateway URL {base_url!r}: {exc}", code="invalid_gateway_url"
    )


def transport_error(exc: Exception, base_url: str) -> AgentFMError:
    """A request that got no answer: ``GatewayConnectionError``, or for a bad URL
    ``InvalidRequestError(code="invalid_gateway_url")``."""
    scrub(exc)
    if isinstance(exc, _BAD_URL_ERRORS):
        return bad_url_error(exc, base_url)
    timed_out = isinstance(exc, httpx.TimeoutException)
    what = "timed out talking to" if timed_out else "could not reach"
    return GatewayConnectionError(
        f"{what} the AgentFM gateway at {base_url} ({type(exc).__name__}: {exc})",
        code="timeout" if timed_out else "connection_error",
    )


def stream_error(exc: Exception, base_url: str, label: str = "worker") -> AgentFMError:
    """A streaming call's failure: connecting is ``GatewayConnectionError``, anything after
    (reset, truncated body, read timeout) is ``WorkerStreamError``, as in the SDK."""
    if isinstance(exc, (*CONNECT_ERRORS, *_BAD_URL_ERRORS)):
        return transport_error(exc, base_url)
    scrub(exc)
    return WorkerStreamError(
        f"{label} stream failed: {type(exc).__name__}: {exc}", code="worker_stream_failed"
    )


def decode_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        raise GatewayProtocolError(
            f"gateway answered a body that is not JSON ({response.request.url.path}, "
            f"HTTP {response.status_code})",
            status=response.status_code,
        ) from None


__all__ = [
    "bad_url_error",
    "decode_json",
    "error_from_response",
    "scrub",
    "stream_error",
    "transport_error",
]
