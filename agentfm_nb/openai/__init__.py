"""``agentfm_nb.openai``: the SDK's ``agentfm.openai`` names (answer types, namespaces, warning).

This is a subpackage, so it never shadows the ``openai`` distribution: ``import openai`` always
means openai-python (absolute imports), here and for the user. The namespaces are what
``client.openai`` returns; the classes live in ``agentfm_nb.client.resources.openai``.
"""

from __future__ import annotations

from agentfm_nb.client.resources.openai import AgentFMRoutingWarning
from agentfm_nb.client.resources.openai import AsyncOpenAI as AsyncOpenAINamespace
from agentfm_nb.client.resources.openai import OpenAI as OpenAINamespace
from agentfm_nb.openai.models import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    ModelEntry,
    ModelsList,
    TextCompletion,
    TextCompletionChunk,
    Usage,
    coerce_messages,
)

__all__ = [
    "AgentFMRoutingWarning",
    "AsyncOpenAINamespace",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ModelEntry",
    "ModelsList",
    "OpenAINamespace",
    "TextCompletion",
    "TextCompletionChunk",
    "Usage",
    "coerce_messages",
]
