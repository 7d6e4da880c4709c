"""agentfm_nb: the AgentFM mesh and the OpenGPU agent role, in Jupyter.

Every name of the official SDK's top-level ``__all__`` is here, and so are its public modules
(``agentfm_nb.streaming``, ``.crypto``, ``.artifacts``, ``.models``, ``.exceptions``,
``.openai``), so ``import agentfm_nb as agentfm`` works for code written for ``agentfm-sdk``.

Names are imported lazily so ``import agentfm_nb`` stays cheap (no pandas, web3 or widget stack
until something needs them) and the kernel extension loads fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "LocalMeshGateway": "agentfm_nb.gateway",
    "AgentFMClient": "agentfm_nb.client",
    "AsyncAgentFMClient": "agentfm_nb.client",
    "WebhookReceiver": "agentfm_nb.client",
    "WebhookPayload": "agentfm_nb.client",
    "WorkerProfile": "agentfm_nb.client",
    "TaskChunk": "agentfm_nb.client",
    "TaskResult": "agentfm_nb.client",
    "AsyncTaskAck": "agentfm_nb.client",
    "ScatterResult": "agentfm_nb.client",
    "PeerID": "agentfm_nb.client",
    "WorkersResponse": "agentfm_nb.client.models",
    "AgentFMRoutingWarning": "agentfm_nb.client.resources.openai",
    "ArtifactManager": "agentfm_nb.client.artifacts",
    "SwarmKey": "agentfm_nb.crypto",
    "WorkerTable": "agentfm_nb.widgets",
    "ChatWidget": "agentfm_nb.widgets",
    "ScatterGrid": "agentfm_nb.widgets",
    "GatewayPanel": "agentfm_nb.widgets",
}

# The SDK's public modules, importable as attributes too (``agentfm_nb.streaming``).
_SUBMODULES = frozenset(
    {"artifacts", "crypto", "exceptions", "models", "openai", "streaming", "errors", "wire"}
)

if TYPE_CHECKING:
    from agentfm_nb.client import (
        AgentFMClient,
        AsyncAgentFMClient,
        AsyncTaskAck,
        PeerID,
        ScatterResult,
        TaskChunk,
        TaskResult,
        WebhookPayload,
        WebhookReceiver,
        WorkerProfile,
    )
    from agentfm_nb.client.artifacts import ArtifactManager
    from agentfm_nb.client.models import WorkersResponse
    from agentfm_nb.client.resources.openai import AgentFMRoutingWarning
    from agentfm_nb.crypto import SwarmKey
    from agentfm_nb.gateway import LocalMeshGateway
    from agentfm_nb.widgets import ChatWidget, GatewayPanel, ScatterGrid, WorkerTable


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"agentfm_nb.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentfm_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext agentfm_nb``: register the ``%agentfm`` (and ``%ogpu``) magics."""
    from agentfm_nb.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from agentfm_nb.magics import unload_ipython_extension as _unload

    _unload(ipython)


__all__ = [
    "AgentFMClient",
    "AgentFMError",
    "AgentFMRoutingWarning",
    "ArtifactError",
    "ArtifactManager",
    "AsyncAgentFMClient",
    "AsyncTaskAck",
    "AuthenticationError",
    "ChatWidget",
    "GatewayConnectionError",
    "GatewayInternalError",
    "GatewayPanel",
    "GatewayProtocolError",
    "InvalidRequestError",
    "LocalMeshGateway",
    "MeshOverloadedError",
    "ModelNotFoundError",
    "PeerID",
    "ScatterGrid",
    "ScatterResult",
    "SwarmKey",
    "TaskChunk",
    "TaskExecutionError",
    "TaskResult",
    "WebhookPayload",
    "WebhookReceiver",
    "WorkerNotFoundError",
    "WorkerProfile",
    "WorkerStreamError",
    "WorkerTable",
    "WorkerUnreachableError",
    "WorkersResponse",
    "__version__",
]
