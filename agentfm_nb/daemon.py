"""The SDK's ``agentfm.daemon`` module under our name (``from agentfm_nb.daemon import ...``)."""

from agentfm_nb.gateway import LocalMeshGateway

__all__ = ["LocalMeshGateway"]
