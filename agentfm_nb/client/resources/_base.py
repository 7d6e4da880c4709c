from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentfm_nb.client._async import AsyncAgentFMClient
    from agentfm_nb.client._sync import AgentFMClient


# No __slots__: as with the SDK's namespaces, tests may ``monkeypatch.setattr(client.tasks,
# "run", ...)`` and expect scatter to follow.
class SyncResource:
    def __init__(self, client: AgentFMClient) -> None:
        self._client = client


class AsyncResource:
    def __init__(self, client: AsyncAgentFMClient) -> None:
        self._client = client
