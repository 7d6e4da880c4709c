"""The SDK's ``agentfm.async_client`` module under our name."""

from agentfm_nb.client import DEFAULT_GATEWAY, AsyncAgentFMClient

__all__ = ["DEFAULT_GATEWAY", "AsyncAgentFMClient"]
