"""Start and own a local AgentFM gateway process (the ``agentfm`` binary or the embedded one)."""

from __future__ import annotations

from agentfm_nb.gateway.launcher import (
    GatewayAlreadyRunningError,
    GatewayFileNotFoundError,
    LocalMeshGateway,
)

__all__ = ["GatewayAlreadyRunningError", "GatewayFileNotFoundError", "LocalMeshGateway"]
