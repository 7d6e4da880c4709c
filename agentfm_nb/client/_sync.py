"""``AgentFMClient``: the blocking twin."""

from __future__ import annotations

import threading
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from agentfm_nb.client._base_client import BaseClient
from agentfm_nb.client._options import ClientOptions
from agentfm_nb.client._transport import SyncTransport, make_sync_client
from agentfm_nb.client.resources.events import Events
from agentfm_nb.client.resources.openai import OpenAI
from agentfm_nb.client.resources.peers import Peers
from agentfm_nb.client.resources.tasks import Tasks
from agentfm_nb.client.resources.workers import Workers

if TYPE_CHECKING:
    from agentfm_nb.client._async import AsyncAgentFMClient


class AgentFMClient(BaseClient):
    """Blocking client of an AgentFM gateway (the SDK's surface, plus notebook extras).

    ``api_key``: omitted → ``AGENTFM_API_KEY``; ``None`` → no auth; a string → that key. It is
    read once here; use :meth:`with_options` to change it.
    """

    def _connect(self, opts: ClientOptions) -> None:
        self._http = make_sync_client(opts.gateway_url, opts.timeout, opts.api_key)
        self._transport = SyncTransport(self._http, opts.gateway_url, opts.retries)
        self._async_twin: AsyncAgentFMClient | None = None
        self._twin_lock = threading.Lock()

    @cached_property
    def workers(self) -> Workers:
        return Workers(self)

    @cached_property
    def tasks(self) -> Tasks:
        return Tasks(self)

    @cached_property
    def openai(self) -> OpenAI:
        return OpenAI(self)

    @cached_property
    def events(self) -> Events:
        return Events(self)

    @cached_property
    def peers(self) -> Peers:
        return Peers(self)

    def async_client(self) -> AsyncAgentFMClient:
        """A new ``AsyncAgentFMClient`` with the same options."""
        from agentfm_nb.client._async import AsyncAgentFMClient

        return AsyncAgentFMClient._from_options(self._options)

    def _portal_client(self) -> AsyncAgentFMClient:
        """The async twin used on the portal loop (scatter); closed with this client."""
        with self._twin_lock:
            if self._async_twin is None:
                self._async_twin = self.async_client()
            return self._async_twin

    def ping(self) -> bool:
        """True when the gateway answers ``/api/workers`` (so the key is accepted too)."""
        try:
            return self._http.get("/api/workers", timeout=5.0).status_code == 200
        except (httpx.HTTPError, httpx.InvalidURL):
            return False

    def health(self) -> dict[str, Any]:
        """``GET /health`` (never authenticated)."""
        body = self._transport.json("GET", "/health")
        return body if isinstance(body, dict) else {"status": str(body)}

    def close(self) -> None:
        twin, self._async_twin = self._async_twin, None
        if twin is not None:
            from agentfm_nb.client._portal import portal

            portal().submit(twin.aclose()).result(timeout=10)
        self._http.close()

    def __enter__(self) -> AgentFMClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
