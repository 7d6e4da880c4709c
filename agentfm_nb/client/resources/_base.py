from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentfm_nb.client._async import AsyncAgentFMClient
    from agentfm_nb.client._sync import AgentFMClient


class SyncResource:
    __slots__ = ("_client",)

    def __init__(self, client: AgentFMClient) -> None:
        self._client = client


class AsyncResource:
    __slots__ = ("_client",)

    def __init__(self, client: AsyncAgentFMClient) -> None:
        self._client = client
