"""The one transport layer: httpx clients, auth header, retries, error mapping.

Nothing outside the client package sees a raw httpx exception: every failure leaves as an
``agentfm_nb.errors`` type (mapping in ``_http_errors``, retry policy in ``_retry``). Every
request, the ``/api/execute`` hot path included, goes through the httpx client's own transport
lookup (``_transport_for_url``), so proxies from the environment, mounts and a swapped-in
transport all see it. The async client's default transport for plain HTTP is ``_lean``; there
the hot path skips httpx's Request/Response objects, unless respx or pytest-httpx is active, in
which case it builds them and goes through httpx/httpcore as a stock client would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import httpx

from agentfm_nb import __version__
from agentfm_nb.client._http11 import head_bytes
from agentfm_nb.client._http_errors import (
    bad_url_error,
    decode_json,
    error_from_response,
    scrub,
    stream_error,
    transport_error,
)
from agentfm_nb.client._lean import LeanBody, LeanTransport
from agentfm_nb.client._pools import KEEPALIVE_EXPIRY_S, ShardedTransport, ssl_context
from agentfm_nb.client._retry import (
    CONNECT_ERRORS,
    RETRY_STATUSES,
    RETRYABLE_ERRORS,
    STALE_ERRORS,
    backoff,
    status_delay,
)

log = logging.getLogger("agentfm_nb.client")
T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


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


def _limits() -> httpx.Limits:
    # Scatter keeps hundreds of streams open at once; the default pool (100) would queue them.
    return httpx.Limits(
        max_connections=None, max_keepalive_connections=64, keepalive_expiry=KEEPALIVE_EXPIRY_S
    )


def make_sync_client(base_url: str, timeout: httpx.Timeout, api_key: str | None) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        headers=headers_for(api_key),
        verify=ssl_context(),
        limits=_limits(),
        follow_redirects=False,
        trust_env=True,  # as the SDK: HTTP(S)_PROXY / ALL_PROXY / NO_PROXY apply
    )


def _env_proxy_mounts() -> dict[str, httpx.AsyncBaseTransport | None]:
    """The proxy mounts httpx builds from the environment, which it skips when a client is
    given its own transport (ours): built the same way here so the two twins agree."""
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    env = urllib.request.getproxies()
    if not env:
        return mounts
    from httpx._utils import get_environment_proxies

    for pattern, proxy in get_environment_proxies().items():
        mounts[pattern] = (
            None
            if proxy is None
            else httpx.AsyncHTTPTransport(proxy=proxy, verify=ssl_context(), limits=_limits())
        )
    return mounts


def make_async_client(
    base_url: str, timeout: httpx.Timeout, api_key: str | None
) -> httpx.AsyncClient:
    transport: httpx.AsyncBaseTransport = ShardedTransport(limits=_limits())
    if base_url.partition("://")[0].lower() == "http":
        transport = LeanTransport(transport)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        headers=headers_for(api_key),
        transport=transport,
        mounts=_env_proxy_mounts(),
        follow_redirects=False,
        trust_env=True,
    )


# --- sync ------------------------------------------------------------------------------------


class SyncTransport:
    """Request helpers over one ``httpx.Client``."""

    def __init__(self, http: httpx.Client, base_url: str, retries: int) -> None:
        self.http = http
        self.base_url = base_url
        self.retries = retries

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.http.request(method, path, **kwargs)
            except RETRYABLE_ERRORS as exc:
                if last:
                    raise transport_error(exc, self.base_url) from None
                log.debug("retrying %s %s after %s", method, path, type(exc).__name__)
                time.sleep(backoff(attempt))
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise transport_error(exc, self.base_url) from None
            if response.status_code in RETRY_STATUSES and not last:
                log.debug("retrying %s %s after HTTP %d", method, path, response.status_code)
                time.sleep(status_delay(attempt, response))
                continue
            if response.status_code >= 400:
                raise error_from_response(response.status_code, response.headers, response.content)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return decode_json(self.request(method, path, **kwargs))

    def _open(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        """Send a streaming request; only a failure to connect is retried (nothing ran)."""
        request = self.http.build_request(method, path, **kwargs)
        attempt, stale = 0, False
        while True:
            try:
                return self.http.send(request, stream=True)
            except CONNECT_ERRORS:
                if attempt >= self.retries:
                    raise
                time.sleep(backoff(attempt))
                attempt += 1
            except STALE_ERRORS:
                if stale:
                    raise
                stale = True

    @contextmanager
    def stream(
        self, method: str, path: str, *, label: str = "worker", **kwargs: Any
    ) -> Iterator[httpx.Response]:
        """Open a streaming response with its status checked; closes it on any exit."""
        try:
            response = self._open(method, path, kwargs)
        except httpx.InvalidURL as exc:
            raise bad_url_error(exc, self.base_url) from None
        except httpx.HTTPError as exc:
            raise stream_error(exc, self.base_url, label) from None
        try:
            if response.status_code >= 400:
                body = response.read()
                raise error_from_response(response.status_code, response.headers, body)
            yield response
        except httpx.HTTPError as exc:
            raise stream_error(exc, self.base_url, label) from None
        finally:
            response.close()


# --- async -----------------------------------------------------------------------------------


class AsyncTransport:
    """Request helpers over one ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, retries: int) -> None:
        self.http = http
        self.base_url = base_url
        self.retries = retries
        self._targets: dict[str, tuple[httpx.URL, httpx.Headers, bytes]] = {}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = await self.http.request(method, path, **kwargs)
            except RETRYABLE_ERRORS as exc:
                if last:
                    raise transport_error(exc, self.base_url) from None
                log.debug("retrying %s %s after %s", method, path, type(exc).__name__)
                await asyncio.sleep(backoff(attempt))
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise transport_error(exc, self.base_url) from None
            if response.status_code in RETRY_STATUSES and not last:
                log.debug("retrying %s %s after HTTP %d", method, path, response.status_code)
                await asyncio.sleep(status_delay(attempt, response))
                continue
            if response.status_code >= 400:
                raise error_from_response(response.status_code, response.headers, response.content)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return decode_json(await self.request(method, path, **kwargs))

    def _target(self, path: str) -> tuple[httpx.URL, httpx.Headers, bytes]:
        """The URL, headers and request head of a JSON POST to ``path``, built (and validated)
        once per path."""
        target = self._targets.get(path)
        if target is None:
            url = self.http._merge_url(path)
            # the client's own headers (User-Agent, Accept, the key), minus content coding:
            # the hot path hands the body over as it arrives, undecoded
            raw = [(b"Host", url.netloc), (b"Content-Type", b"application/json")]
            raw += [(k, v) for k, v in self.http.headers.raw if k.lower() != b"accept-encoding"]
            head = head_bytes("POST", url.raw_path, raw)
            target = self._targets[path] = (url, httpx.Headers(raw), head)
        return target

    def _post_request(self, path: str, body: bytes, timeout: httpx.Timeout) -> httpx.Request:
        url, headers, _ = self._target(path)
        request = httpx.Request(
            "POST",
            url,
            headers=headers,  # a Headers object is copied as is, not parsed again
            stream=httpx.ByteStream(body),
            extensions={"timeout": timeout.as_dict()},
        )
        request.headers["Content-Length"] = str(len(body))
        return request

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """One request through the client's transport for its URL (mounts, proxies, mocks).

        A failure to connect is retried with backoff (nothing was sent); a request that died
        before any answer on a keep-alive connection the gateway had just closed gets one fresh
        try (see ``STALE_ERRORS``).
        """
        transport = self.http._transport_for_url(request.url)
        return await self._retrying(lambda: transport.handle_async_request(request))

    async def _retrying(self, attempt_once: Callable[[], Awaitable[T]]) -> T:
        attempt, stale = 0, False
        while True:
            try:
                return await attempt_once()
            except CONNECT_ERRORS:
                if attempt >= self.retries:
                    raise
                await asyncio.sleep(backoff(attempt))
                attempt += 1
            except STALE_ERRORS:
                if stale:
                    raise
                stale = True

    async def _open_lean(
        self, lean: LeanTransport, url: httpx.URL, head: bytes, body: bytes, timeout: httpx.Timeout
    ) -> LeanBody:
        """``_send`` on the lean transport's direct path: no httpx Request/Response objects."""
        head += b"Content-Length: %d\r\n" % len(body)
        return await self._retrying(
            lambda: lean.open(url, head, body, timeout.connect, timeout.read)
        )

    def post_stream(
        self, path: str, payload: Any, timeout: httpx.Timeout, *, label: str = "worker"
    ) -> PostStream:
        """POST JSON, check the status, yield the body's raw chunks; closes it on exit.

        The hot path of ``tasks.run``/``stream``: the client's transport without
        ``AsyncClient.send``'s per-request machinery (auth flows, redirects, cookies), which
        this client does not use. Never retried once sent (a started POST may be running a
        task). Closing early drops the connection, which is how the gateway learns to stop the
        agent.
        """
        return PostStream(self, path, payload, timeout, label)

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, *, label: str = "worker", **kwargs: Any
    ) -> AsyncIterator[httpx.Response]:
        """A streaming request through the full ``AsyncClient.send`` (OpenAI streams)."""
        try:
            request = self.http.build_request(method, path, **kwargs)
        except httpx.InvalidURL as exc:
            raise bad_url_error(exc, self.base_url) from None
        response: httpx.Response | None = None
        for attempt in range(self.retries + 1):
            try:
                response = await self.http.send(request, stream=True)
                break
            except CONNECT_ERRORS as exc:
                if attempt == self.retries:
                    raise stream_error(exc, self.base_url, label) from None
                await asyncio.sleep(backoff(attempt))
            except httpx.HTTPError as exc:
                raise stream_error(exc, self.base_url, label) from None
        assert response is not None
        try:
            if response.status_code >= 400:
                body = await response.aread()
                raise error_from_response(response.status_code, response.headers, body)
            yield response
        except httpx.HTTPError as exc:
            raise stream_error(exc, self.base_url, label) from None
        finally:
            await response.aclose()


class PostStream:
    """``AsyncTransport.post_stream``'s context manager; a class, not a generator, because
    scatter opens thousands of them (asyncio tracks every async generator it sees)."""

    __slots__ = ("_close", "_label", "_path", "_payload", "_timeout", "_transport")

    def __init__(
        self,
        transport: AsyncTransport,
        path: str,
        payload: Any,
        timeout: httpx.Timeout,
        label: str,
    ) -> None:
        self._transport = transport
        self._path = path
        self._payload = payload
        self._timeout = timeout
        self._label = label
        self._close: Callable[[], Awaitable[None]] | None = None

    async def __aenter__(self) -> AsyncIterator[bytes]:
        t, path, timeout = self._transport, self._path, self._timeout
        body = json.dumps(self._payload, ensure_ascii=False, separators=(",", ":")).encode()
        chunks: httpx.AsyncByteStream
        headers: httpx.Headers | list[tuple[bytes, bytes]]  # read only for an error answer
        try:
            url, _, head = t._target(path)
            http = t.http._transport_for_url(url)
            if isinstance(http, LeanTransport) and http.direct():
                answer = await t._open_lean(http, url, head, body, timeout)
                self._close = answer.aclose
                status, headers, chunks = answer.status, answer.headers, answer
            else:
                response = await t._send(t._post_request(path, body, timeout))
                self._close = response.aclose
                status, headers = response.status_code, response.headers
                assert isinstance(response.stream, httpx.AsyncByteStream)
                chunks = response.stream
            if status >= 400:
                data = b"".join([part async for part in chunks])
                raise error_from_response(status, httpx.Headers(headers), data)
        except BaseException as exc:
            await self._aclose()
            if isinstance(exc, httpx.HTTPError):
                scrub(exc)
                raise stream_error(exc, t.base_url, self._label) from None
            raise
        return chunks.__aiter__()

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        await self._aclose()
        if isinstance(exc, httpx.HTTPError):
            scrub(exc)
            raise stream_error(exc, self._transport.base_url, self._label) from None

    async def _aclose(self) -> None:
        close, self._close = self._close, None
        if close is not None:
            await close()


__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncTransport",
    "ShardedTransport",
    "SyncTransport",
    "decode_json",
    "error_from_response",
    "make_async_client",
    "make_sync_client",
    "make_timeout",
    "scrub",
    "stream_error",
    "stream_timeout",
    "transport_error",
]
