"""The one transport layer: httpx clients, auth header, error mapping, safe retries.

Nothing outside this module touches raw httpx exceptions: every failure leaves as an
``agentfm_nb.errors`` type. Retries (jittered backoff) happen only where repeating cannot run a
task twice: connection failures (the request never left) and idempotent GETs. A started
``POST /api/execute`` is never retried.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpcore
import httpx

from agentfm_nb import __version__
from agentfm_nb.client._asyncio_net import make_pool
from agentfm_nb.client._shared import backoff_delays
from agentfm_nb.errors import (
    AgentFMError,
    AuthenticationError,
    GatewayConnectionError,
    GatewayInternalError,
    GatewayProtocolError,
    InvalidRequestError,
    MeshOverloadedError,
    WorkerNotFoundError,
    WorkerStreamError,
    WorkerUnreachableError,
    error_from_envelope,
)

log = logging.getLogger("agentfm_nb.client")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_RETRY_STATUSES = frozenset({502, 503, 504})
_CONNECT_ERRORS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpcore.ConnectError,
    httpcore.ConnectTimeout,
)
# Everything the raw httpcore hot path (``AsyncTransport.post_stream``) can raise about transport.
_HTTPCORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
    OSError,
)
# 16 pools keep each one ~4 connections deep at scatter's usual 64 streams (16 workers x 4).
_SHARDS = 16


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(float(timeout), connect=min(float(timeout), 5.0))


def stream_timeout(base: httpx.Timeout) -> httpx.Timeout:
    """Streams may stay silent for as long as the agent thinks: no read timeout."""
    return httpx.Timeout(connect=base.connect, read=None, write=base.write, pool=base.pool)


def headers_for(api_key: str | None) -> dict[str, str]:
    headers = {"User-Agent": f"agentfm-nb/{__version__}", "Accept": "*/*"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


_KEEPALIVE = 64
_KEEPALIVE_EXPIRY = 5.0  # httpx's default


def _limits() -> httpx.Limits:
    # Scatter keeps hundreds of streams open at once; the default pool (100) would queue them.
    return httpx.Limits(
        max_connections=None,
        max_keepalive_connections=_KEEPALIVE,
        keepalive_expiry=_KEEPALIVE_EXPIRY,
    )


def make_sync_client(base_url: str, timeout: httpx.Timeout, api_key: str | None) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        headers=headers_for(api_key),
        verify=_ssl_context(),
        limits=_limits(),
        follow_redirects=False,
        trust_env=False,
    )


class _ShardStream(httpx.AsyncByteStream):
    """A shard's response body; closing it frees the shard's in-flight slot exactly once."""

    __slots__ = ("_inner", "_shard")

    def __init__(self, inner: httpx.AsyncByteStream, shard: _Shard) -> None:
        self._inner = inner
        self._shard: _Shard | None = shard

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._inner:
            yield part

    async def aclose(self) -> None:
        shard, self._shard = self._shard, None
        if shard is not None:
            shard.inflight -= 1
        await self._inner.aclose()


class _Shard:
    __slots__ = ("inflight", "pool", "transport")

    def __init__(self, transport: httpx.AsyncHTTPTransport) -> None:
        self.transport = transport
        self.pool: httpcore.AsyncConnectionPool | None = None  # the raw hot path's, made lazily
        self.inflight = 0


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several small httpcore pools behind one httpx transport.

    httpcore's pool rescans every pooled connection (quadratically, with a socket poll per idle
    one) each time a request is queued or a response closed, so one pool of 64 concurrent
    streams spends more CPU on bookkeeping than on HTTP. Each request goes to the shard with the
    fewest requests in flight, which keeps every pool a handful of connections deep.

    ``post_stream`` is the hot path of ``tasks.run``/``stream``: the same shards, but straight on
    an httpcore pool over asyncio streams, skipping httpx's request/response models and anyio
    (together most of the client's CPU per task in a scatter).
    """

    def __init__(self, shards: int = _SHARDS, **transport_kwargs: Any) -> None:
        transport_kwargs.setdefault("verify", _ssl_context())
        self._shards = [
            _Shard(httpx.AsyncHTTPTransport(**transport_kwargs)) for _ in range(max(1, shards))
        ]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = min(self._shards, key=_inflight)
        shard.inflight += 1
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            shard.inflight -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ShardStream(response.stream, shard)
        return response

    @asynccontextmanager
    async def post_stream(
        self,
        url: httpcore.URL,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeout: dict[str, float | None],
    ) -> AsyncIterator[httpcore.Response]:
        """A raw streaming POST; raises httpcore's exceptions, the caller maps them."""
        shard = min(self._shards, key=_inflight)
        if shard.pool is None:
            shard.pool = make_pool(
                url.scheme,
                _ssl_context(),
                max_connections=None,
                max_keepalive_connections=_KEEPALIVE,
                keepalive_expiry=_KEEPALIVE_EXPIRY,
            )
        shard.inflight += 1
        try:
            async with shard.pool.stream(
                b"POST", url, headers=headers, content=body, extensions={"timeout": timeout}
            ) as response:
                yield response
        finally:
            shard.inflight -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.transport.aclose()
            if shard.pool is not None:
                await shard.pool.aclose()


def _inflight(shard: _Shard) -> int:
    return shard.inflight


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of ms: once per process, shared by every shard/client.
    return httpx.create_ssl_context()


def make_async_client(
    base_url: str, timeout: httpx.Timeout, api_key: str | None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        headers=headers_for(api_key),
        transport=ShardedTransport(limits=_limits(), trust_env=False),
        follow_redirects=False,
        trust_env=False,
    )


# --- error mapping -------------------------------------------------------------------------


def _plain_text_error(status: int, text: str, retry_after: float | None) -> AgentFMError:
    """Older ``/api/*`` routes answer errors as plain text with a status."""
    msg = text.strip()[:500] or f"HTTP {status}"
    if status == 401:
        return AuthenticationError(msg, code="unauthorized", status=status)
    if status == 404:
        return WorkerNotFoundError(msg, code="worker_not_found", status=status)
    if status == 403:
        code = "dispatch_refused" if msg.startswith("dispatch refused") else "forbidden"
        return InvalidRequestError(msg, code=code, status=status)
    if status == 429:
        return InvalidRequestError(msg, code="rate_limited", status=status)
    if status == 503:
        return MeshOverloadedError(
            msg, code="mesh_overloaded", status=status, retry_after=retry_after
        )
    if status == 502:
        return WorkerStreamError(msg, code="worker_stream_failed", status=status)
    if status == 500 and "dial" in msg.lower():
        return WorkerUnreachableError(msg, code="worker_unreachable", status=status)
    if 400 <= status < 500:
        return InvalidRequestError(msg, code="invalid_request_error", status=status)
    return GatewayInternalError(msg, code="internal_error", status=status)


def error_from_response(status: int, headers: httpx.Headers, body: bytes) -> AgentFMError:
    """Map a non-2xx answer (JSON envelope or plain text) to a typed error."""
    retry_after: float | None = None
    raw_retry = headers.get("retry-after")
    if raw_retry:
        try:
            retry_after = float(raw_retry)
        except ValueError:
            retry_after = None
    ctype = headers.get("content-type", "")
    stripped = body.lstrip()
    if "json" in ctype or stripped.startswith(b"{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
            err = error_from_envelope(decoded, status)
            if type(err) is AgentFMError:
                err = GatewayInternalError(err.message, code=err.code, status=status)
            if err.code is None and status == 404:
                err = WorkerNotFoundError(err.message, code=None, status=status)
            if isinstance(err, MeshOverloadedError):
                err.retry_after = retry_after
            return err
        if "json" in ctype:
            return GatewayProtocolError(f"undecodable error body (HTTP {status})", status=status)
    return _plain_text_error(status, body.decode("utf-8", "replace"), retry_after)


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


def transport_error(exc: Exception, base_url: str, *, mid_stream: bool = False) -> AgentFMError:
    """Translate an httpx exception; never leaks headers (the key) into the message."""
    scrub(exc)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpcore.UnsupportedProtocol):
        return InvalidRequestError(f"invalid gateway URL {base_url!r}: {exc}")
    if isinstance(exc, _CONNECT_ERRORS):
        return GatewayConnectionError(
            f"cannot reach the AgentFM gateway at {base_url} ({type(exc).__name__})",
            code="connection_error",
        )
    if isinstance(exc, httpx.TimeoutException | httpcore.TimeoutException):
        return GatewayConnectionError(
            f"timed out talking to the gateway at {base_url} ({type(exc).__name__})",
            code="timeout",
        )
    where = "mid-stream" if mid_stream else "during the request"
    return GatewayConnectionError(
        f"transport failed {where} with the gateway at {base_url} ({type(exc).__name__})",
        code="connection_error",
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


def _retryable(method: str, exc: Exception | None, status: int | None) -> bool:
    if exc is not None:
        if isinstance(exc, _CONNECT_ERRORS):
            return True  # the request never left: safe for any method
        return method == "GET" and isinstance(exc, httpx.TransportError)
    return method == "GET" and status in _RETRY_STATUSES


def _retry_delay(
    method: str, exc: Exception | None, status: int | None, delays: Iterator[float]
) -> float | None:
    """Seconds to wait before trying again, or ``None``: not retryable or retries used up."""
    return next(delays, None) if _retryable(method, exc, status) else None


# --- sync ------------------------------------------------------------------------------------


class SyncTransport:
    """Request helpers over one ``httpx.Client``."""

    def __init__(self, http: httpx.Client, base_url: str, retries: int) -> None:
        self.http = http
        self.base_url = base_url
        self.retries = retries

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        delays = backoff_delays(self.retries)
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                delay = _retry_delay(method, exc, None, delays)
                if delay is not None:
                    log.debug("retrying %s %s after %s", method, path, type(exc).__name__)
                    time.sleep(delay)
                    continue
                raise transport_error(exc, self.base_url) from None
            if response.status_code >= 400:
                delay = _retry_delay(method, None, response.status_code, delays)
                if delay is not None:
                    time.sleep(delay)
                    continue
                raise error_from_response(response.status_code, response.headers, response.content)
            return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return decode_json(self.request(method, path, **kwargs))

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """Open a streaming response with its status checked; closes it on any exit."""
        try:
            with self.http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    body = response.read()
                    raise error_from_response(response.status_code, response.headers, body)
                yield response
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.base_url, mid_stream=True) from None


# --- async -----------------------------------------------------------------------------------


class AsyncTransport:
    """Request helpers over one ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, retries: int) -> None:
        self.http = http
        self.base_url = base_url
        self.retries = retries
        sharded = getattr(http, "_transport", None)  # ours, unless a caller swapped it
        self._sharded = sharded if isinstance(sharded, ShardedTransport) else None
        self._targets: dict[str, tuple[httpcore.URL, list[tuple[bytes, bytes]]]] = {}

    def _target(self, path: str) -> tuple[httpcore.URL, list[tuple[bytes, bytes]]]:
        """The raw URL and headers of a JSON POST to ``path``, built once per path."""
        target = self._targets.get(path)
        if target is None:
            base = self.http.base_url
            url = httpcore.URL(
                scheme=base.raw_scheme,
                host=base.raw_host,
                port=base.port,
                target=base.raw_path + path.lstrip("/").encode("ascii"),
            )
            # the client's own headers (User-Agent, Accept, the key), minus content coding:
            # this path hands the body over as it arrives
            headers = [(b"Host", base.netloc), (b"Content-Type", b"application/json")]
            headers += [(k, v) for k, v in self.http.headers.raw if k.lower() != b"accept-encoding"]
            target = self._targets[path] = (url, headers)
        return target

    @asynccontextmanager
    async def post_stream(
        self, path: str, payload: Any, timeout: httpx.Timeout
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """POST JSON, check the status, yield the body's chunks; closes the response on exit.

        Never retried (a started POST may be running a task). Closing early drops the
        connection, which is how the gateway learns to stop the agent.
        """
        if self._sharded is None:
            async with self.stream("POST", path, json=payload, timeout=timeout) as response:
                yield response.aiter_bytes()
            return
        url, headers = self._target(path)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [*headers, (b"Content-Length", str(len(body)).encode("ascii"))]
        try:
            async with self._sharded.post_stream(url, headers, body, timeout.as_dict()) as response:
                if response.status >= 400:
                    data = await response.aread()
                    raise error_from_response(
                        response.status, httpx.Headers(response.headers), data
                    )
                yield response.aiter_stream()
        except _HTTPCORE_ERRORS as exc:
            raise transport_error(exc, self.base_url, mid_stream=True) from None

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        delays = backoff_delays(self.retries)
        while True:
            try:
                response = await self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                delay = _retry_delay(method, exc, None, delays)
                if delay is not None:
                    await asyncio.sleep(delay)
                    continue
                raise transport_error(exc, self.base_url) from None
            if response.status_code >= 400:
                delay = _retry_delay(method, None, response.status_code, delays)
                if delay is not None:
                    await asyncio.sleep(delay)
                    continue
                raise error_from_response(response.status_code, response.headers, response.content)
            return response

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return decode_json(await self.request(method, path, **kwargs))

    @asynccontextmanager
    async def stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        try:
            async with self.http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    body = await response.aread()
                    raise error_from_response(response.status_code, response.headers, body)
                yield response
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.base_url, mid_stream=True) from None


__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncTransport",
    "SyncTransport",
    "decode_json",
    "error_from_response",
    "make_async_client",
    "make_sync_client",
    "make_timeout",
    "scrub",
    "stream_timeout",
    "transport_error",
]
