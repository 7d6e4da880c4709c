"""Typed objects of the OpenAI-compatible routes (attribute access like openai-python)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentfm_nb.errors import GatewayProtocolError


def _obj(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise GatewayProtocolError(f"{what}: expected a JSON object")
    return body


def _s(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _head(d: dict[str, Any], default_object: str) -> tuple[str, str, int, str]:
    """``id, object, created, model``: the fields every answer starts with."""
    return (
        str(d.get("id", "")),
        str(d.get("object", default_object)),
        int(d.get("created") or 0),
        str(d.get("model", "")),
    )


def _agentfm_ids(d: dict[str, Any]) -> tuple[str | None, str | None]:
    """The gateway's additions: which peer ran the answer, under which task id."""
    return _s(d.get("agentfm_peer_id")), _s(d.get("agentfm_task_id"))


def _index(choice: dict[str, Any]) -> int:
    return int(choice.get("index") or 0)


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_wire(cls, d: Any) -> Usage:
        d = d if isinstance(d, dict) else {}
        return cls(
            int(d.get("prompt_tokens") or 0),
            int(d.get("completion_tokens") or 0),
            int(d.get("total_tokens") or 0),
        )


@dataclass(slots=True)
class ChatMessage:
    role: str = "assistant"
    content: str | None = None


@dataclass(slots=True)
class ChatChoice:
    index: int
    message: ChatMessage
    finish_reason: str | None = None


@dataclass(slots=True)
class ChatCompletion:
    id: str
    object: str
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage = field(default_factory=Usage)

    @classmethod
    def from_wire(cls, body: Any) -> ChatCompletion:
        d = _obj(body, "chat completion")
        choices = []
        for c in d.get("choices") or []:
            msg = c.get("message") or {}
            choices.append(
                ChatChoice(
                    _index(c),
                    ChatMessage(str(msg.get("role") or "assistant"), _s(msg.get("content"))),
                    _s(c.get("finish_reason")),
                )
            )
        return cls(*_head(d, "chat.completion"), choices, Usage.from_wire(d.get("usage")))


@dataclass(slots=True)
class ChoiceDelta:
    role: str | None = None
    content: str | None = None


@dataclass(slots=True)
class ChunkChoice:
    index: int
    delta: ChoiceDelta
    finish_reason: str | None = None


@dataclass(slots=True)
class ChatCompletionChunk:
    id: str
    object: str
    created: int
    model: str
    choices: list[ChunkChoice]
    agentfm_peer_id: str | None = None
    agentfm_task_id: str | None = None

    @classmethod
    def from_wire(cls, body: Any) -> ChatCompletionChunk:
        d = _obj(body, "chat completion chunk")
        choices = []
        for c in d.get("choices") or []:
            delta = c.get("delta") or {}
            choices.append(
                ChunkChoice(
                    _index(c),
                    ChoiceDelta(_s(delta.get("role")), _s(delta.get("content"))),
                    _s(c.get("finish_reason")),
                )
            )
        return cls(*_head(d, "chat.completion.chunk"), choices, *_agentfm_ids(d))


@dataclass(slots=True)
class CompletionChoice:
    index: int
    text: str
    finish_reason: str | None = None


@dataclass(slots=True)
class TextCompletion:
    id: str
    object: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage = field(default_factory=Usage)
    agentfm_peer_id: str | None = None
    agentfm_task_id: str | None = None

    @classmethod
    def from_wire(cls, body: Any) -> TextCompletion:
        d = _obj(body, "text completion")
        choices = [
            CompletionChoice(_index(c), str(c.get("text") or ""), _s(c.get("finish_reason")))
            for c in d.get("choices") or []
        ]
        return cls(
            *_head(d, "text_completion"), choices, Usage.from_wire(d.get("usage")), *_agentfm_ids(d)
        )


@dataclass(slots=True)
class ModelEntry:
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = ""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> Any:
        # agentfm_* telemetry fields (and any newer ones) read as attributes.
        if name == "extra":
            raise AttributeError(name)
        try:
            return self.extra[name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def from_wire(cls, d: Any) -> ModelEntry:
        d = _obj(d, "model")
        known = {"id", "object", "created", "owned_by", "description"}
        return cls(
            str(d.get("id", "")),
            str(d.get("object", "model")),
            int(d.get("created") or 0),
            str(d.get("owned_by", "")),
            str(d.get("description", "")),
            {k: v for k, v in d.items() if k not in known},
        )


@dataclass(slots=True)
class ModelsList:
    data: list[ModelEntry]
    object: str = "list"

    def __iter__(self) -> Any:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def from_wire(cls, body: Any) -> ModelsList:
        d = _obj(body, "models list")
        return cls([ModelEntry.from_wire(m) for m in d.get("data") or []])


__all__ = [
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionChoice",
    "ModelEntry",
    "ModelsList",
    "TextCompletion",
    "Usage",
]
