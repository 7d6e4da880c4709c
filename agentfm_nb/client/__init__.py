"""The kernel-side AgentFM client: the official SDK's surface, async-first, plus notebook extras.

``AgentFMClient`` and ``AsyncAgentFMClient`` are twins over one transport layer; code written
for ``agentfm-sdk`` runs by changing only the import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfm_nb.client._async import AsyncAgentFMClient
from agentfm_nb.client._default import (
    get_default_async_client,
    get_default_client,
    set_default_async_client,
    set_default_client,
)
from agentfm_nb.client._shared import DEFAULT_GATEWAY
from agentfm_nb.client._sync import AgentFMClient
from agentfm_nb.client.artifacts import ArtifactManager
from agentfm_nb.client.models import (
    AsyncTaskAck,
    PeerID,
    PeerInfo,
    PeerReputation,
    TaskChunk,
    TaskResult,
    WorkerProfile,
    WorkersResponse,
)
from agentfm_nb.client.resources.events import (
    EntryAppended,
    MeshEvent,
    Reconnected,
    TaskFinished,
    TaskStarted,
    WorkerOffline,
    WorkerOnline,
)
from agentfm_nb.client.resources.openai import AgentFMRoutingWarning
from agentfm_nb.client.webhook import WebhookPayload, WebhookReceiver
from agentfm_nb.errors import (
    AgentFMError,
    ArtifactError,
    AuthenticationError,
    GatewayConnectionError,
    GatewayInternalError,
    GatewayProtocolError,
    InvalidRequestError,
    MeshOverloadedError,
    ModelNotFoundError,
    TaskExecutionError,
    WorkerNotFoundError,
    WorkerStreamError,
    WorkerUnreachableError,
)

if TYPE_CHECKING:
    from agentfm_nb.scatter import ScatterEvent, ScatterResult, ScatterResults


def __getattr__(name: str) -> Any:
    # The scatter types live with the engine (and pull no pandas until used).
    if name in ("ScatterResult", "ScatterResults", "ScatterEvent"):
        import agentfm_nb.scatter as scatter

        return getattr(scatter, name)
    raise AttributeError(f"module 'agentfm_nb.client' has no attribute {name!r}")


__all__ = [
    "DEFAULT_GATEWAY",
    "AgentFMClient",
    "AgentFMError",
    "AgentFMRoutingWarning",
    "ArtifactError",
    "ArtifactManager",
    "AsyncAgentFMClient",
    "AsyncTaskAck",
    "AuthenticationError",
    "EntryAppended",
    "GatewayConnectionError",
    "GatewayInternalError",
    "GatewayProtocolError",
    "InvalidRequestError",
    "MeshEvent",
    "MeshOverloadedError",
    "ModelNotFoundError",
    "PeerID",
    "PeerInfo",
    "PeerReputation",
    "Reconnected",
    "ScatterEvent",
    "ScatterResult",
    "ScatterResults",
    "TaskChunk",
    "TaskExecutionError",
    "TaskFinished",
    "TaskResult",
    "TaskStarted",
    "WebhookPayload",
    "WebhookReceiver",
    "WorkerNotFoundError",
    "WorkerOffline",
    "WorkerOnline",
    "WorkerProfile",
    "WorkerStreamError",
    "WorkerUnreachableError",
    "WorkersResponse",
    "get_default_async_client",
    "get_default_client",
    "set_default_async_client",
    "set_default_client",
]
