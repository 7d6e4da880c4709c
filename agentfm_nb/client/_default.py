"""The process-wide default clients that magics and widgets use when none is given."""

from __future__ import annotations

import os
import threading

from agentfm_nb.client._async import AsyncAgentFMClient
from agentfm_nb.client._shared import DEFAULT_GATEWAY
from agentfm_nb.client._sync import AgentFMClient

_lock = threading.Lock()
_client: AgentFMClient | None = None
_async_client: AsyncAgentFMClient | None = None


def default_gateway_url() -> str:
    return os.environ.get("AGENTFM_GATEWAY_URL") or DEFAULT_GATEWAY


def get_default_client() -> AgentFMClient:
    """The default sync client (``AGENTFM_GATEWAY_URL`` or the default address)."""
    global _client
    with _lock:
        if _client is None:
            _client = AgentFMClient(default_gateway_url())
        return _client


def set_default_client(client: AgentFMClient | None) -> None:
    """Replace the default client; the async default follows its options."""
    global _client, _async_client
    with _lock:
        _client = client
        _async_client = None


def get_default_async_client() -> AsyncAgentFMClient:
    """An async twin of the default client (same options).

    Meant for the portal loop (widgets): an ``httpx.AsyncClient``'s connections belong to the
    loop that opened them.
    """
    global _async_client
    sync = get_default_client()
    with _lock:
        if _async_client is None:
            _async_client = sync._portal_client()
        return _async_client


def set_default_async_client(client: AsyncAgentFMClient | None) -> None:
    global _async_client
    with _lock:
        _async_client = client


__all__ = [
    "default_gateway_url",
    "get_default_async_client",
    "get_default_client",
    "set_default_async_client",
    "set_default_client",
]
