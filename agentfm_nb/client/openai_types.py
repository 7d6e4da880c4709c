"""Typed answers of the OpenAI-compatible routes, as pydantic v2 models (the SDK's own types).

Field names, defaults and required fields follow ``agentfm.openai.models``. Every model keeps
fields it does not know (``extra="allow"``): the gateway adds ``agentfm_*`` fields and OpenAI
adds spec fields, and neither should need a client release. The two the gateway sends on every
answer (``agentfm_peer_id``, ``agentfm_task_id``) are declared so they are typed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

_M = TypeVar("_M", bound="_Open")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")

    @classmethod
    def from_wire(cls: type[_M], body: Any) -> _M:
        # ValidationError is a ValueError: the resources turn it into GatewayProtocolError.
        return cls.model_validate(body)


class ChatMessage(_Open):
    """One message of a chat (request or answer). ``content`` may be null in an answer."""

    role: str
    content: str | None


class Usage(_Open):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatChoice(_Open):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class _Routed(_Open):
    """The head every answer starts with, plus which peer ran it under which task id."""

    id: str
    created: int
    model: str
    agentfm_peer_id: str | None = None
    agentfm_task_id: str | None = None


class ChatCompletion(_Routed):
    object: Literal["chat.completion"] = "chat.completion"
    choices: list[ChatChoice] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class CompletionChoice(_Open):
    index: int = 0
    text: str
    finish_reason: str | None = None


class TextCompletion(_Routed):
    object: Literal["text_completion"] = "text_completion"
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)


class ChatChoiceDelta(_Open):
    role: str | None = None
    content: str | None = None


class ChatChunkChoice(_Open):
    index: int = 0
    delta: ChatChoiceDelta = Field(default_factory=ChatChoiceDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Routed):
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChatChunkChoice] = Field(default_factory=list)


class TextCompletionChunkChoice(_Open):
    index: int = 0
    text: str = ""
    finish_reason: str | None = None


class TextCompletionChunk(_Routed):
    object: Literal["text_completion"] = "text_completion"
    choices: list[TextCompletionChunkChoice] = Field(default_factory=list)


class ModelEntry(_Open):
    """One ``/v1/models`` entry: one per worker, ``id`` is its peer id."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "agentfm"
    description: str | None = None
    agentfm_name: str | None = None
    agentfm_engine: str | None = None
    agentfm_status: str | None = None
    agentfm_hardware: str | None = None
    agentfm_current_tasks: int | None = None
    agentfm_max_tasks: int | None = None
    agentfm_cpu_usage_pct: float | None = None
    agentfm_ram_free_gb: float | None = None
    agentfm_has_gpu: bool | None = None
    agentfm_gpu_used_gb: float | None = None
    agentfm_gpu_total_gb: float | None = None
    agentfm_gpu_usage_pct: float | None = None


class ModelsList(BaseModel):
    """``/v1/models``; iterating it (and ``len``) goes over ``data``, like openai-python pages."""

    object: Literal["list"] = "list"
    data: list[ModelEntry] = Field(default_factory=list)

    @classmethod
    def from_wire(cls, body: Any) -> ModelsList:
        return cls.model_validate(body)

    def __iter__(self) -> Iterator[ModelEntry]:  # type: ignore[override]
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def coerce_messages(messages: Sequence[ChatMessage | dict[str, Any]]) -> list[dict[str, Any]]:
    """``ChatMessage`` objects or plain dicts in, plain dicts out (``None`` fields dropped).

    Anything else is a ``TypeError``.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, ChatMessage):
            out.append(m.model_dump(exclude_none=True))
        elif isinstance(m, dict):
            out.append(m)
        else:
            raise TypeError(f"a message must be a ChatMessage or a dict, not {type(m).__name__}")
    return out


# Earlier names of the chunk parts, kept for code written against them.
ChoiceDelta = ChatChoiceDelta
ChunkChoice = ChatChunkChoice

__all__ = [
    "ChatChoice",
    "ChatChoiceDelta",
    "ChatChunkChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionChoice",
    "ModelEntry",
    "ModelsList",
    "TextCompletion",
    "TextCompletionChunk",
    "TextCompletionChunkChoice",
    "Usage",
    "coerce_messages",
]
