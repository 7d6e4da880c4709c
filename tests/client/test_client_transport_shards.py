"""The sharded async transport: least-loaded spreading and exact in-flight accounting."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest

from agentfm_nb.client import AsyncAgentFMClient
from agentfm_nb.client._transport import ShardedTransport
from agentfm_nb.errors import GatewayConnectionError


def _shards(client: AsyncAgentFMClient) -> list[Any]:
    transport = client._http._transport
    assert isinstance(transport, ShardedTransport)
    return transport._shards


async def test_pools_stay_small_and_slots_are_released(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as client:
        transport = client._http._transport
        assert isinstance(transport, ShardedTransport)
        depth = transport._depth
        n = 2 * depth + 1
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(n):
                # unread bodies: each response keeps its connection (and its shard slot)
                await stack.enter_async_context(client._http.stream("GET", "/health"))
            loads = sorted((s.inflight for s in _shards(client)), reverse=True)
            # no pool holds more than ``depth`` requests: a new one opened instead
            assert loads == [depth, depth, 1]
        assert [s.inflight for s in _shards(client)] == [0, 0, 0]
        # pooled connections are reused, no new pool opens for sequential requests
        for _ in range(5):
            assert await client.health()
        assert len(_shards(client)) == 3
        assert sum(s.inflight for s in _shards(client)) == 0


async def test_failed_and_cancelled_requests_release_their_slot(gateway: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    async with AsyncAgentFMClient(f"http://127.0.0.1:{dead_port}", retries=0) as dead:
        with pytest.raises(GatewayConnectionError):
            await dead.health()
        assert sum(s.inflight for s in _shards(dead)) == 0

    async with AsyncAgentFMClient(gateway.url, api_key=None) as client:
        poet = next(w for w in await client.workers.list() if w.name == "Poet")

        async def read_some() -> None:
            async for _ in client.tasks.stream(worker_id=poet.peer_id, prompt="a slow poem"):
                pass

        task = asyncio.ensure_future(read_some())
        for _ in range(200):
            if sum(s.inflight for s in _shards(client)):
                break
            await asyncio.sleep(0.01)
        assert sum(s.inflight for s in _shards(client)) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sum(s.inflight for s in _shards(client)) == 0
