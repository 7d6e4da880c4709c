"""Many small httpcore pools behind one httpx transport: TLS gateways, and every request made
while a test double replaces httpx's or httpcore's transports (see ``_lean``).

httpcore's pool rescans every connection it holds (with a socket poll per idle one) each time
a request is queued or a response closed, so one pool serving n concurrent streams costs O(n)
per request and O(n^2) per batch: at 1,024 streams that bookkeeping was most of the client's
CPU. Here each pool (a *shard*, a plain ``httpx.AsyncHTTPTransport``) carries at most ``depth``
requests; a new shard opens when every shard is full. Picking a shard is O(1): a stack of the
shards with room, so recently used shards (warm keep-alive connections) are reused first.

Each shard is an unmodified ``httpx.AsyncHTTPTransport`` over an ``httpcore.AsyncConnectionPool``,
so pytest-httpx and respx (both modes) intercept every request exactly as for a stock client.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

# Requests per pool before another pool opens: measured flat cost per task from 64 to 1,024
# concurrent streams (bench/bench_client.py scale point).
DEPTH = 4
# Past this many pools, requests go to the least loaded one (O(shards) per pick, rare).
MAX_SHARDS = 1024
KEEPALIVE_EXPIRY_S = 5.0  # httpx's default


@functools.cache
def ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of ms: once per process, shared by every shard/client.
    return httpx.create_ssl_context()


class _Shard:
    __slots__ = ("inflight", "listed", "transport")

    def __init__(self, transport: httpx.AsyncHTTPTransport) -> None:
        self.transport = transport
        self.inflight = 0
        self.listed = True  # on the transport's stack of shards with room


class _ShardStream(httpx.AsyncByteStream):
    """A shard's response body; closing it frees the shard's slot exactly once."""

    __slots__ = ("_inner", "_owner", "_shard")

    def __init__(self, inner: httpx.AsyncByteStream, owner: ShardedTransport, shard: _Shard):
        self._inner = inner
        self._owner = owner
        self._shard: _Shard | None = shard

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()  # no generator layer of our own per chunk

    async def aclose(self) -> None:
        shard, self._shard = self._shard, None
        if shard is not None:
            self._owner._release(shard)
        await self._inner.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that spreads requests over small pools (see module doc)."""

    def __init__(
        self,
        *,
        depth: int = DEPTH,
        max_shards: int = MAX_SHARDS,
        **transport_kwargs: Any,
    ) -> None:
        transport_kwargs.setdefault("verify", ssl_context())
        self._kwargs = transport_kwargs
        self._depth = max(1, depth)
        self._max_shards = max(1, max_shards)
        self._shards: list[_Shard] = []
        self._room: list[_Shard] = []  # shards with inflight < depth, most recently freed last

    def _new_shard(self) -> _Shard:
        shard = _Shard(httpx.AsyncHTTPTransport(**self._kwargs))
        self._shards.append(shard)
        self._room.append(shard)
        return shard

    def _acquire(self) -> _Shard:
        room = self._room
        if room:
            shard = room[-1]
        elif len(self._shards) < self._max_shards:
            shard = self._new_shard()
        else:
            shard = min(self._shards, key=_inflight)
        shard.inflight += 1
        if shard.listed and shard.inflight >= self._depth:
            if room[-1] is shard:
                room.pop()
            else:
                room.remove(shard)
            shard.listed = False
        return shard

    def _release(self, shard: _Shard) -> None:
        shard.inflight -= 1
        if not shard.listed and shard.inflight < self._depth:
            shard.listed = True
            self._room.append(shard)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = self._acquire()
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            self._release(shard)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ShardStream(response.stream, self, shard)
        return response

    async def aclose(self) -> None:
        shards, self._shards, self._room = self._shards, [], []
        for shard in shards:
            await shard.transport.aclose()


def _inflight(shard: _Shard) -> int:
    return shard.inflight


__all__ = ["DEPTH", "KEEPALIVE_EXPIRY_S", "MAX_SHARDS", "ShardedTransport", "ssl_context"]
