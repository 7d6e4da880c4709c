"""The sharded httpx transport (TLS gateways and mocked runs): small pools, exact accounting."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import httpx
import pytest

from agentfm_nb.client._pools import ShardedTransport


def _client(url: str, transport: ShardedTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, transport=transport)


async def test_pools_stay_small_and_slots_are_released(gateway: Any) -> None:
    transport = ShardedTransport()
    async with _client(gateway.url, transport) as http:
        depth = transport._depth
        n = 2 * depth + 1
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(n):
                # unread bodies: each response keeps its connection (and its shard slot)
                await stack.enter_async_context(http.stream("GET", "/health"))
            loads = sorted((s.inflight for s in transport._shards), reverse=True)
            # no pool holds more than ``depth`` requests: a new one opened instead
            assert loads == [depth, depth, 1]
        assert [s.inflight for s in transport._shards] == [0, 0, 0]
        # pooled connections are reused, no new pool opens for sequential requests
        for _ in range(5):
            assert (await http.get("/health")).status_code == 200
        assert len(transport._shards) == 3
        assert sum(s.inflight for s in transport._shards) == 0


async def test_failed_requests_release_their_slot() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    transport = ShardedTransport()
    async with _client(f"http://127.0.0.1:{dead_port}", transport) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/health")
        assert sum(s.inflight for s in transport._shards) == 0
