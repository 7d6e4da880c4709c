"""The SDK's ``agentfm.artifacts`` module: ``ArtifactManager`` (in ``agentfm_nb.client``)."""

from __future__ import annotations

from agentfm_nb.client.artifacts import DEFAULT_MAX_EXTRACT_BYTES, ArtifactManager

__all__ = ["DEFAULT_MAX_EXTRACT_BYTES", "ArtifactManager"]
