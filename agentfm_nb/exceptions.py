"""The SDK's ``agentfm.exceptions`` module name for ``agentfm_nb.errors`` (the same classes)."""

from __future__ import annotations

from agentfm_nb import errors as _errors
from agentfm_nb.errors import *  # noqa: F403

__all__ = _errors.__all__
