"""An httpcore network backend on plain asyncio streams, for the ``/api/execute`` hot path.

httpcore's default backend goes through anyio, whose per-read/per-write cancel scopes and
attribute lookups cost about as much CPU as the HTTP parsing itself when scatter runs thousands
of short tasks. Plain-HTTP connections use this backend instead; TLS keeps httpcore's default
(``asyncio.StreamWriter.start_tls`` needs Python 3.11). Errors leave as httpcore's own types.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore


class AsyncioStream(httpcore.AsyncNetworkStream):
    __slots__ = ("_reader", "_writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            if timeout is None:
                return await self._reader.read(max_bytes)
            return await asyncio.wait_for(self._reader.read(max_bytes), timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.ReadTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            if not self._writer.transport.get_write_buffer_size():
                return  # all of it went out at once (the usual case for a request)
            if timeout is None:
                await self._writer.drain()
            else:
                await asyncio.wait_for(self._writer.drain(), timeout)
        except asyncio.TimeoutError as exc:
            raise httpcore.WriteTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.WriteError(exc) from exc

    async def aclose(self) -> None:
        self._writer.close()

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle keep-alive connection is "readable" once the peer closed it or sent
            # something unasked; asyncio has already moved such bytes into the reader.
            return self._reader.at_eof() or bool(getattr(self._reader, "_buffer", b""))
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = None if local_address is None else (local_address, 0)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=local, limit=1 << 20), timeout
            )
        except asyncio.TimeoutError as exc:
            raise httpcore.ConnectTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ConnectError(exc) from exc
        sock = writer.get_extra_info("socket")  # asyncio already set TCP_NODELAY
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - the gateway is reached over TCP
        raise httpcore.UnsupportedProtocol("unix sockets are not used by this client")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def make_pool(
    scheme: bytes, ssl_context: ssl.SSLContext, **limits: Any
) -> httpcore.AsyncConnectionPool:
    """One pool of the hot path; plain HTTP on asyncio streams, TLS on httpcore's default."""
    backend = AsyncioBackend() if scheme == b"http" else None
    return httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend, **limits)
