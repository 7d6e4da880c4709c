"""The official ``openai`` client, unchanged, against the embedded gateway's ``/v1`` routes."""

from __future__ import annotations

from typing import Any

import openai
import pytest


def _client(url: str, key: str = "unused", **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, **kw)


def test_models_list(gateway: Any) -> None:
    models = _client(gateway.url).models.list()
    by_name = {m.model_extra["agentfm_name"]: m for m in models.data if m.model_extra}
    assert {"Echo", "Poet", "Scribe", "Analyst"} <= set(by_name)
    assert by_name["Poet"].owned_by == "alice"
    assert by_name["Poet"].id.startswith("12D3KooW")


def test_chat_non_stream_and_stream(gateway: Any) -> None:
    client = _client(gateway.url)
    messages: Any = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    done = client.chat.completions.create(model="echo", messages=messages)
    # the blank line the worker writes before its sentinel is content (boss openai.go)
    assert done.choices[0].message.content == "system: s\n\nuser: u\n\nassistant:\n\n"
    assert done.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(model="Poet", messages=messages, stream=True)
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(text.splitlines()) >= 10
    assert chunks[-1].choices[0].finish_reason == "stop"
    extra = chunks[1].model_extra or {}
    assert extra["agentfm_peer_id"].startswith("12D3KooW")
    assert extra["agentfm_task_id"].startswith("task_")


def test_completions(gateway: Any) -> None:
    client = _client(gateway.url)
    done = client.completions.create(model="analyst", prompt="One. Two.")
    assert done.choices[0].text.startswith("characters: 9\n")
    parts = [
        c.choices[0].text
        for c in client.completions.create(model="echo", prompt="a\nb", stream=True)
    ]
    assert "".join(parts) == "a\nb\n\n"
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="echo", prompt=["a", "b"])
    assert info.value.code == "unsupported_prompt_type"


def test_errors(gateway: Any, start_gateway: Any, api_key: str) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        _client(gateway.url).chat.completions.create(
            model="nobody", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.code == "model_not_found"
    gw = start_gateway(api_keys=[api_key])
    with pytest.raises(openai.AuthenticationError) as auth:
        _client(gw.url, "wrong-key-wrong-key-wrong").models.list()
    assert auth.value.code == "invalid_api_key"
    assert _client(gw.url, api_key).models.list().data


async def test_async_openai_stream(gateway: Any) -> None:
    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    stream = await client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "async"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "user: async\n\nassistant:\n\n"
    await client.close()


def test_agent_failure_is_an_answer_not_an_error(start_gateway: Any, write_agent: Any) -> None:
    """As the real gateway: the failing agent's text is the reply (200, finish_reason stop),
    so the client neither raises nor retries."""
    agent = write_agent("print('partial', flush=True)\nraise SystemExit(2)\n")
    gw = start_gateway(agent.worker("Crashy", max_tasks=2))
    client = _client(gw.url)
    messages: Any = [{"role": "user", "content": "x"}]
    expected = "partial\n⚠️  Sandbox exited: exit status 2\n\n"
    stream = client.chat.completions.create(model="Crashy", messages=messages, stream=True)
    chunks = [c for c in stream if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"
    reply = client.chat.completions.create(model="Crashy", messages=messages)
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason == "stop"
