"""``AsyncAgentFMClient``: the asyncio twin."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from agentfm_nb.client._accessor import ensure_accessor
from agentfm_nb.client._options import ClientOptions, client_repr
from agentfm_nb.client._shared import DEFAULT_GATEWAY, UNSET, _Unset
from agentfm_nb.client._transport import AsyncTransport, make_async_client
from agentfm_nb.client.resources.events import AsyncEvents
from agentfm_nb.client.resources.openai import AsyncOpenAI
from agentfm_nb.client.resources.peers import AsyncPeers
from agentfm_nb.client.resources.tasks import AsyncTasks
from agentfm_nb.client.resources.workers import AsyncWorkers


class AsyncAgentFMClient:
    """Asyncio client of an AgentFM gateway; every method mirrors ``AgentFMClient``."""

    def __init__(
        self,
        gateway_url: str = DEFAULT_GATEWAY,
        *,
        timeout: float | httpx.Timeout | None = None,
        retries: int = 2,
        artifacts_dir: str | Path | None = None,
        api_key: str | _Unset | None = UNSET,
    ) -> None:
        self._init(ClientOptions.build(gateway_url, timeout, retries, artifacts_dir, api_key))
        ensure_accessor()  # df.agentfm, without importing pandas here

    def _init(self, opts: ClientOptions) -> None:
        self._options = opts
        self.gateway_url = opts.gateway_url
        self.timeout = opts.timeout
        self.retries = opts.retries
        self.artifacts_dir = opts.artifacts_dir
        self.api_key = opts.api_key
        self._http = make_async_client(opts.gateway_url, opts.timeout, opts.api_key)
        self._transport = AsyncTransport(self._http, opts.gateway_url, opts.retries)

    @classmethod
    def _from_options(cls, opts: ClientOptions) -> AsyncAgentFMClient:
        self = cls.__new__(cls)
        self._init(opts)
        return self

    def __repr__(self) -> str:
        return client_repr(type(self).__name__, self._options)

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

    def with_options(
        self,
        *,
        gateway_url: str | _Unset = UNSET,
        timeout: float | httpx.Timeout | _Unset | None = UNSET,
        retries: int | _Unset = UNSET,
        artifacts_dir: str | Path | _Unset | None = UNSET,
        api_key: str | _Unset | None = UNSET,
    ) -> AsyncAgentFMClient:
        return self._from_options(
            self._options.derive(
                gateway_url=gateway_url,
                timeout=timeout,
                retries=retries,
                artifacts_dir=artifacts_dir,
                api_key=api_key,
            )
        )

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
