"""Pydantic models with the SDK's fields, defaults and validation, fed the same input as the SDK."""

from __future__ import annotations

from typing import Any

import agentfm.models as sdk_models
import agentfm.openai.models as sdk_openai
import pytest
from pydantic import BaseModel, ValidationError

import agentfm_nb.models as our_models
import agentfm_nb.openai.models as our_openai
from agentfm_nb import AgentFMClient
from agentfm_nb.errors import GatewayProtocolError

REAL_WORKER = {  # the real gateway's /api/workers entry, with the ledger fields
    "peer_id": "12D3KooWX",
    "author": "alice",
    "name": "research-agent",
    "status": "AVAILABLE",
    "hardware": "llama3.2 (CPU: 12 Cores)",
    "description": "research bot",
    "cpu_usage_pct": 14.2,
    "ram_free_gb": 12.5,
    "current_tasks": 1,
    "max_tasks": 10,
    "has_gpu": False,
    "honesty_score": 0.42,
    "online": True,
    "last_seen": "2026-07-09T15:50:00Z",
    "a_field_from_the_future": [1, 2],
}

WORKER_PROPS = ("model", "agent_name", "is_available", "load_ratio")


def _sdk_view(model: BaseModel, sdk_cls: type[BaseModel]) -> dict[str, Any]:
    """Our model's values for the SDK's fields only (ours may add more)."""
    return {k: getattr(model, k) for k in sdk_cls.model_fields}


@pytest.mark.parametrize(
    "payload",
    [
        REAL_WORKER,
        {"peer_id": "x"},
        {"peer_id": "y", "hardware": "flux (GPU VRAM: 6.4/24.0 GB)", "status": "busy"},
        {"peer_id": "z", "hardware": "", "current_tasks": 3, "max_tasks": 0},
        {"peer_id": "w", "hardware": "(odd)", "cpu_usage_pct": "7.5", "max_tasks": 4},
    ],
)
def test_worker_profile_same_values_as_the_sdk(payload: dict[str, Any]) -> None:
    theirs = sdk_models.WorkerProfile.model_validate(payload)
    ours = our_models.WorkerProfile.model_validate(payload)
    assert isinstance(ours, BaseModel)
    assert _sdk_view(ours, sdk_models.WorkerProfile) == theirs.model_dump()
    for prop in WORKER_PROPS:
        assert getattr(ours, prop) == getattr(theirs, prop), prop


@pytest.mark.parametrize(
    "bad",
    [
        {"cpu_usage_pct": -1.0},
        {"current_tasks": -5},
        {"ram_free_gb": -0.1},
        {"gpu_usage_pct": -3},
        {"max_tasks": "many"},
    ],
)
def test_worker_profile_refuses_what_the_sdk_refuses(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        sdk_models.WorkerProfile(peer_id="x", **bad)
    with pytest.raises(ValidationError):
        our_models.WorkerProfile(peer_id="x", **bad)
    with pytest.raises(ValidationError):
        our_models.WorkerProfile.model_validate({"author": "no peer id"})


def test_workers_response_envelope() -> None:
    body = {"success": True, "online_count": 2, "agents": [REAL_WORKER, {"peer_id": "x"}]}
    ours = our_models.WorkersResponse.model_validate(body)
    theirs = sdk_models.WorkersResponse.model_validate(body)
    assert [w.peer_id for w in ours.agents] == [w.peer_id for w in theirs.agents]
    assert ours.success is theirs.success is True
    assert our_models.WorkersResponse.model_validate({"success": True, "agents": []}).agents == []
    assert our_models.WorkersResponse().agents == sdk_models.WorkersResponse().agents == []


def test_a_bad_workers_answer_is_a_protocol_error_on_the_wire(respx_mock: Any) -> None:
    # The SDK lets pydantic's ValidationError escape workers.list(); ours is typed (compat row).
    respx_mock.get("http://g/api/workers").respond(
        json={"success": True, "agents": [{"peer_id": "x", "max_tasks": -1}]}
    )
    with AgentFMClient("http://g", api_key=None) as client, pytest.raises(GatewayProtocolError):
        client.workers.list()


def test_workers_list_returns_pydantic_models(respx_mock: Any) -> None:
    respx_mock.get("http://g/api/workers").respond(json={"success": True, "agents": [REAL_WORKER]})
    with AgentFMClient("http://g", api_key=None) as client:
        (w,) = client.workers.list(model="LLAMA3.2")
    assert isinstance(w, our_models.WorkerProfile)
    assert w.model_dump()["peer_id"] == "12D3KooWX" and w.honesty_score == 0.42


def test_model_entry_defaults() -> None:
    e = our_openai.ModelEntry(id="x", created=0)
    assert e.owned_by == "agentfm" and e.agentfm_name is None and e.object == "model"
    assert e.model_dump() == sdk_openai.ModelEntry(id="x", created=0).model_dump()
    with pytest.raises(ValidationError):
        our_openai.ModelEntry(id="x")  # type: ignore[call-arg]


OPENAI_BODIES: list[tuple[str, dict[str, Any]]] = [
    (
        "ChatCompletion",
        {
            "id": "chatcmpl-x",
            "object": "chat.completion",
            "created": 1745452800,
            "model": "12D3KooW...",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            "agentfm_peer_id": "12D3KooWP",
        },
    ),
    (
        "ChatCompletionChunk",
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "x",
            "choices": [{"index": 0, "delta": {"content": "h"}, "finish_reason": None}],
            "agentfm_extra_future_field": True,
        },
    ),
    (
        "TextCompletion",
        {
            "id": "t",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "text": "abc", "finish_reason": "stop"}],
        },
    ),
    ("TextCompletionChunk", {"id": "t", "created": 1, "model": "m", "choices": [{"text": "a"}]}),
    (
        "ModelsList",
        {
            "object": "list",
            "data": [
                {
                    "id": "12D3KooWX",
                    "object": "model",
                    "created": 1,
                    "owned_by": "alice",
                    "agentfm_name": "research-agent",
                    "agentfm_engine": "llama3.2",
                    "agentfm_current_tasks": 1,
                    "agentfm_future": "kept",
                }
            ],
        },
    ),
]


@pytest.mark.parametrize(("name", "body"), OPENAI_BODIES, ids=[n for n, _ in OPENAI_BODIES])
def test_openai_types_decode_like_the_sdk(name: str, body: dict[str, Any]) -> None:
    theirs = getattr(sdk_openai, name).model_validate(body).model_dump()
    ours = getattr(our_openai, name).model_validate(body).model_dump()
    # ours declares two agentfm_* fields the SDK keeps as extras: same values either way
    assert {k: v for k, v in ours.items() if v is not None or k in theirs} == theirs


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("ChatCompletion", {"id": "x", "created": 1, "model": "m", "object": "text_completion"}),
        ("ChatCompletion", {"id": "x", "model": "m"}),
        ("ChatMessage", {"role": "user"}),
        ("CompletionChoice", {"index": 0}),
    ],
)
def test_openai_types_refuse_what_the_sdk_refuses(name: str, body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        getattr(sdk_openai, name).model_validate(body)
    with pytest.raises(ValidationError):
        getattr(our_openai, name).model_validate(body)


def test_coerce_messages() -> None:
    mixed: list[Any] = [
        {"role": "user", "content": "hi"},
        our_openai.ChatMessage(role="assistant", content="yo"),
    ]
    want = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert our_openai.coerce_messages(mixed) == want
    assert (
        sdk_openai.coerce_messages(
            [mixed[0], sdk_openai.ChatMessage(role="assistant", content="yo")]
        )
        == want
    )
    with pytest.raises(TypeError):
        our_openai.coerce_messages(["just a string"])  # type: ignore[list-item]
