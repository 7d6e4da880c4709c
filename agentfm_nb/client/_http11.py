"""One HTTP/1.1 connection on an asyncio protocol, parsed by httptools.

The client's plain-HTTP requests run here instead of httpcore: per request httpcore and h11 cost
more CPU than the gateway's whole answer (pool rescans, header validation, anyio cancel scopes),
and scatter sends thousands of them. A connection carries one request at a time; the pool that
owns it (``_lean``) hands it out and takes it back. Failures leave as httpx's own exception
types, so retries and error mapping treat both transports alike.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

import httptools
import httpx

# Stop reading from the socket while this much body sits unread (the caller is slow); reading
# goes on once the caller takes it. Mirrors what asyncio streams do with their buffer limit.
HIGH_WATER = 1 << 20


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("timed out waiting for the gateway"))


class Connection(asyncio.Protocol):
    """A keep-alive HTTP/1.1 client connection; ``send`` one request, then read its answer."""

    __slots__ = (
        "_busy",
        "_framed",
        "_informational",
        "_parser",
        "_paused",
        "_transport",
        "_waiter",
        "_write_ready",
        "buffered",
        "chunks",
        "done",
        "error",
        "headers",
        "headers_done",
        "idle_since",
        "lost",
        "reusable",
        "status",
    )

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._write_ready: asyncio.Future[None] | None = None
        self._paused = False
        self._busy = False  # a request is out and its answer not yet complete
        self.lost = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.done = False
        self.reusable = False
        self.error: BaseException | None = None
        self._framed = False  # Content-Length or chunked: the body's end is in the bytes
        self._informational = False  # inside a 1xx answer, which precedes the real one

    # --- the request side ------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        """Write a whole request (head and body); waits only if the socket buffer is full."""
        transport = self._transport
        if transport is None or self.lost or transport.is_closing():
            raise httpx.WriteError("connection closed before the request was sent")
        self._reset()
        self._busy = True
        transport.write(data)
        while self._write_ready is not None and not self.lost:
            await self._write_ready

    async def wait(self, timeout: float | None) -> None:
        """Sleep until the parser has news (headers, body, the end) or the connection fails."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        if timeout is None:
            await waiter
            return
        handle = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            handle.cancel()

    def take(self) -> bytes:
        """Every body byte read so far, as one chunk (already-buffered reads are merged)."""
        chunks = self.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return data

    def close(self) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.close()

    @property
    def open(self) -> bool:
        return not self.lost and self._transport is not None and not self._transport.is_closing()

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.attach(transport)

    def attach(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, and it reports
        # connection_made a turn after create_connection returns: the pool attaches at once
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            # bytes nobody asked for (on an idle connection, or past the end of an answer)
            # would be read as the next request's answer: never reuse this connection
            self._junk()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the gateway switched protocols unasked"))
        except httptools.HttpParserError as exc:
            if self.done:
                self._junk()  # a complete answer, then more: keep the answer, drop the rest
            else:
                self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.done:
            if self.headers_done and not self._framed and exc is None:
                self.on_message_complete()  # a body delimited by the close itself
            elif exc is not None:
                self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
            elif self.headers_done:
                self._fail(
                    httpx.RemoteProtocolError(
                        "peer closed connection without sending complete message body"
                    )
                )
            else:
                self._fail(
                    httpx.RemoteProtocolError("Server disconnected without sending a response.")
                )
        ready, self._write_ready = self._write_ready, None
        if ready is not None and not ready.done():
            ready.set_result(None)

    def pause_writing(self) -> None:
        if self._write_ready is None:
            self._write_ready = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        ready, self._write_ready = self._write_ready, None
        if ready is not None and not ready.done():
            ready.set_result(None)

    # --- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.done:
            raise ValueError("a second answer to one request")  # stops the parser

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        if len(name) in (14, 17):
            lower = name.lower()
            if lower == b"content-length" or (
                lower == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                self._framed = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            self._informational = True  # "100 Continue" and kin: the real answer follows
            self.headers = []
            return
        self.status = status
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            self._framed = False
            return
        self._busy = False
        self.done = True
        self.reusable = self._parser.should_keep_alive() and not self.lost
        self._wake()

    def _junk(self) -> None:
        self.close()  # no longer open, so the pool never takes it back
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self.lost = True
        if self._transport is not None:
            self._transport.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)


def head_bytes(method: str, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """A request head; refuses names or values that would split it (header injection)."""
    lines = [method.encode("ascii") + b" " + target + b" HTTP/1.1\r\n"]
    for name, value in headers:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
            raise httpx.LocalProtocolError(f"illegal header {name.decode('latin-1')!r}")
        lines.append(name + b": " + value + b"\r\n")
    return b"".join(lines)


__all__ = ["HIGH_WATER", "Connection", "head_bytes"]
