"""The OpenAI-compatible answer types, where the SDK keeps them (``agentfm.openai.models``)."""

from __future__ import annotations

from agentfm_nb.client import openai_types as _types
from agentfm_nb.client.openai_types import *  # noqa: F403

__all__ = _types.__all__
