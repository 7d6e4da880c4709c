"""The client's default async transport: lean HTTP/1.1 keep-alive pools for plain-HTTP gateways.

Each origin keeps a stack of idle connections (``_http11.Connection``): taking one and giving it
back are O(1) whatever the number of streams in flight, so a scatter's cost per task stays flat
from 64 to 1,024 concurrent streams. The most recently used connection is reused first; one idle
longer than ``keepalive_expiry`` is closed rather than reused (the gateway drops idle
connections after a few seconds).

Everything else goes to the ``fallback`` (``_pools.ShardedTransport``, plain httpx/httpcore):
TLS, HEAD/CONNECT, chunked uploads, and *every* request while a test double is installed on
httpx's or httpcore's transport classes (respx in either mode, pytest-httpx, ``mock.patch``), so
mocks see exactly the requests a stock httpx client would make.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import httpx

from agentfm_nb.client._http11 import Connection, head_bytes

# Below uvicorn's 5 s keep-alive (our embedded gateway), so we drop an idle connection before
# the server does, instead of racing its close; a lost race still gets one fresh try.
KEEPALIVE_EXPIRY_S = 4.0
MAX_IDLE = 1024  # per origin: enough for a scatter over every slot of a large mesh

_PATCHABLE: tuple[tuple[type, str], ...] = (
    (httpx.AsyncHTTPTransport, "handle_async_request"),
    (httpcore.AsyncConnectionPool, "handle_async_request"),
    (httpcore.AsyncHTTPConnection, "handle_async_request"),
)
_ORIGINALS = tuple(getattr(cls, name) for cls, name in _PATCHABLE)
# Imported while a mock was already active: never trust the direct path.
_TAINTED = not all(
    getattr(fn, "__module__", "").startswith(("httpx.", "httpcore.")) for fn in _ORIGINALS
)


def mocked() -> bool:
    """True while respx, pytest-httpx or a ``mock.patch`` replaces httpx/httpcore transports."""
    if _TAINTED:
        return True
    for (cls, name), original in zip(_PATCHABLE, _ORIGINALS, strict=True):
        if getattr(cls, name) is not original:
            return True
    return False


class LeanBody(httpx.AsyncByteStream):
    """A response body read straight off its connection; the connection goes back to the pool
    once the body was read to its end, and is dropped if the reader leaves early."""

    __slots__ = ("_conn", "_key", "_owner", "_timeout", "headers", "status")

    def __init__(
        self, owner: LeanTransport, key: tuple[str, int], conn: Connection, timeout: float | None
    ) -> None:
        self._owner = owner
        self._key = key
        self._conn: Connection | None = conn
        self._timeout = timeout
        self.status = conn.status
        self.headers = conn.headers

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        while True:
            if conn.chunks:
                return conn.take()
            if conn.error is not None:
                raise conn.error
            if conn.done:
                raise StopAsyncIteration
            await conn.wait(self._timeout)

    async def read(self) -> bytes:
        return b"".join([part async for part in self])

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._owner._release(self._key, conn)


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        fallback: httpx.AsyncBaseTransport,
        *,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_S,
        max_idle: int = MAX_IDLE,
    ) -> None:
        self.fallback = fallback
        self._expiry = keepalive_expiry
        self._max_idle = max_idle
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self._open: set[Connection] = set()
        self._closed = False

    @staticmethod
    def direct() -> bool:
        return not mocked()

    # --- the pool --------------------------------------------------------------------------

    async def _connect(self, key: tuple[str, int], timeout: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            opening = loop.create_connection(Connection, key[0], key[1])
            if timeout is None:
                transport, conn = await opening
            else:
                transport, conn = await asyncio.wait_for(opening, timeout)
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {key[0]}:{key[1]}") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        conn.attach(transport)
        self._open.add(conn)
        return conn

    def _take_idle(self, key: tuple[str, int]) -> Connection | None:
        stack = self._idle.get(key)
        if not stack:
            return None
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            if now - conn.idle_since > self._expiry:
                # the stack is newest-last: everything under an expired one is older still
                for old in (conn, *stack):
                    self._drop(old)
                stack.clear()
                return None
            if conn.open:
                return conn
            self._drop(conn)
        return None

    def _release(self, key: tuple[str, int], conn: Connection) -> None:
        if conn.done and conn.reusable and not conn.chunks and conn.open and not self._closed:
            stack = self._idle.setdefault(key, [])
            if len(stack) < self._max_idle:
                conn.idle_since = time.monotonic()
                stack.append(conn)
                return
        self._drop(conn)  # left early or not reusable: closing tells the gateway to stop

    def _drop(self, conn: Connection) -> None:
        conn.close()
        self._open.discard(conn)

    # --- requests --------------------------------------------------------------------------

    async def open(
        self,
        url: httpx.URL,
        head: bytes,
        body: bytes,
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> LeanBody:
        """Send ``head`` (request line and headers, without the blank line) and ``body``;
        return once the answer's status and headers are in."""
        if self._closed:
            raise RuntimeError("the transport has been closed")
        key = (url.host, url.port or 80)
        conn = self._take_idle(key) or await self._connect(key, connect_timeout)
        try:
            await conn.send(b"%s\r\n%s" % (head, body) if body else head + b"\r\n")
            while not conn.headers_done:
                if conn.error is not None:
                    raise conn.error
                await conn.wait(read_timeout)
        except BaseException:
            self._drop(conn)
            raise
        return LeanBody(self, key, conn, read_timeout)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.url.scheme != "http"
            or request.method in ("HEAD", "CONNECT")
            or "transfer-encoding" in request.headers
            or mocked()
        ):
            return await self.fallback.handle_async_request(request)
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        body = b"".join([part async for part in stream])
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        head = head_bytes(request.method, request.url.raw_path, request.headers.raw)
        answer = await self.open(
            request.url, head, body, timeouts.get("connect"), timeouts.get("read")
        )
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=answer,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._closed = True
        conns, self._open, self._idle = self._open, set(), {}
        for conn in conns:
            conn.close()
        await self.fallback.aclose()


__all__ = ["KEEPALIVE_EXPIRY_S", "MAX_IDLE", "LeanBody", "LeanTransport", "mocked"]
