"""``AgentFMClient``: the blocking twin."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from agentfm_nb.client._accessor import ensure_accessor
from agentfm_nb.client._options import ClientOptions, client_repr
from agentfm_nb.client._shared import DEFAULT_GATEWAY, UNSET, _Unset
from agentfm_nb.client._transport import SyncTransport, make_sync_client
from agentfm_nb.client.resources.events import Events
from agentfm_nb.client.resources.openai import OpenAI
from agentfm_nb.client.resources.peers import Peers
from agentfm_nb.client.resources.tasks import Tasks
from agentfm_nb.client.resources.workers import Workers

if TYPE_CHECKING:
    from agentfm_nb.client._async import AsyncAgentFMClient


class AgentFMClient:
    """Blocking client of an AgentFM gateway (the SDK's surface, plus notebook extras).

    ``api_key``: omitted → ``AGENTFM_API_KEY``; ``None`` → no auth; a string → that key. It is
    read once here; use :meth:`with_options` to change it.
    """

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
        self._http = make_sync_client(opts.gateway_url, opts.timeout, opts.api_key)
        self._transport = SyncTransport(self._http, opts.gateway_url, opts.retries)
        self._async_twin: AsyncAgentFMClient | None = None
        self._twin_lock = threading.Lock()

    @classmethod
    def _from_options(cls, opts: ClientOptions) -> AgentFMClient:
        self = cls.__new__(cls)
        self._init(opts)
        return self

    def __repr__(self) -> str:
        return client_repr(type(self).__name__, self._options)

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

    def with_options(
        self,
        *,
        gateway_url: str | _Unset = UNSET,
        timeout: float | httpx.Timeout | _Unset | None = UNSET,
        retries: int | _Unset = UNSET,
        artifacts_dir: str | Path | _Unset | None = UNSET,
        api_key: str | _Unset | None = UNSET,
    ) -> AgentFMClient:
        """A new client with some options replaced (it owns its own connections)."""
        return self._from_options(
            self._options.derive(
                gateway_url=gateway_url,
                timeout=timeout,
                retries=retries,
                artifacts_dir=artifacts_dir,
                api_key=api_key,
            )
        )

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
