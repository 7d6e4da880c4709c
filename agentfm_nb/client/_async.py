"""``AsyncAgentFMClient``: the asyncio twin."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import Any

import httpx

from agentfm_nb.client._base_client import BaseClient
from agentfm_nb.client._options import ClientOptions
from agentfm_nb.client._transport import AsyncTransport, make_async_client
from agentfm_nb.client.resources.events import AsyncEvents
from agentfm_nb.client.resources.openai import AsyncOpenAI
from agentfm_nb.client.resources.peers import AsyncPeers
from agentfm_nb.client.resources.tasks import AsyncTasks
from agentfm_nb.client.resources.workers import AsyncWorkers


class AsyncAgentFMClient(BaseClient):
    """Asyncio client of an AgentFM gateway; every method mirrors ``AgentFMClient``."""

    def _connect(self, opts: ClientOptions) -> None:
        self._http = make_async_client(opts.gateway_url, opts.timeout, opts.api_key)
        self._transport = AsyncTransport(self._http, opts.gateway_url, opts.retries)

    @cached_property
    def workers(self) -> AsyncWorkers:
        return AsyncWorkers(self)

    @cached_property
    def tasks(self) -> AsyncTasks:
        return AsyncTasks(self)

    @cached_property
    def openai(self) -> AsyncOpenAI:
        return AsyncOpenAI(self)

    @cached_property
    def events(self) -> AsyncEvents:
        return AsyncEvents(self)

    @cached_property
    def peers(self) -> AsyncPeers:
        return AsyncPeers(self)

    async def ping(self) -> bool:
        try:
            return (await self._http.get("/api/workers", timeout=5.0)).status_code == 200
        except (httpx.HTTPError, httpx.InvalidURL):
            return False

    async def health(self) -> dict[str, Any]:
        body = await self._transport.json("GET", "/health")
        return body if isinstance(body, dict) else {"status": str(body)}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def close(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> AsyncAgentFMClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
