"""The official ``agentfm`` SDK (agentfm-sdk 0.3.0), unchanged, against the embedded gateway."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from agentfm import AgentFMClient, AsyncAgentFMClient
from agentfm.exceptions import (
    AuthenticationError,
    ModelNotFoundError,
    WorkerNotFoundError,
)

from agentfm_nb.mesh.peerid import new_identity


@pytest.fixture
def client(gateway: Any) -> Any:
    with AgentFMClient(gateway.url, api_key=None) as c:
        yield c


def test_workers_list_and_get(client: Any) -> None:
    workers = client.workers.list()
    names = {w.name for w in workers}
    assert {"Echo", "Poet", "Scribe", "Analyst"} <= names
    poet = next(w for w in workers if w.name == "Poet")
    assert poet.model == "llama3.2"
    assert poet.author == "alice"
    assert poet.is_available
    assert client.workers.get(poet.peer_id).name == "Poet"
    assert [w.name for w in client.workers.list(model="qwen2.5")] == ["Scribe"]
    assert client.ping()


def test_tasks_stream_strips_sentinels(client: Any) -> None:
    echo = next(w for w in client.workers.list() if w.name == "Echo")
    chunks = list(client.tasks.stream(worker_id=echo.peer_id, prompt="alpha\nbeta"))
    text = "".join(c.text for c in chunks if c.kind == "text")
    assert text == "alpha\nbeta\n\n"  # the worker writes "\n" before its sentinel
    assert "[AGENTFM" not in text


def test_tasks_run_harvests_artifacts(start_gateway: Any, tmp_path: Path) -> None:
    gw = start_gateway()
    with AgentFMClient(gw.url, api_key=None, artifacts_dir=gw.artifacts_dir) as c:
        scribe = next(w for w in c.workers.list() if w.name == "Scribe")
        result = c.tasks.run(worker_id=scribe.peer_id, prompt="write it", artifact_timeout=30)
    assert result.text
    assert [p.name for p in result.artifacts] == ["report.md"]
    assert result.artifacts[0].read_text()


def test_submit_async_and_scatter(client: Any) -> None:
    workers = client.workers.list()
    echo = next(w for w in workers if w.name == "Echo")
    ack = client.tasks.submit_async(worker_id=echo.peer_id, prompt="later")
    assert ack.task_id.startswith("task_")
    assert ack.status == "queued"
    analyst = next(w for w in workers if w.name == "Analyst")
    prompts = [f"prompt number {i}" for i in range(6)]
    results = client.tasks.scatter(prompts, peer_ids=[echo.peer_id, analyst.peer_id])
    assert [r.status for r in results] == ["success"] * 6
    assert results[0].text == "prompt number 0\n\n"
    assert results[1].text.startswith("characters: 15\n")


@pytest.mark.filterwarnings("ignore:model=:Warning")
def test_sdk_openai_namespace(client: Any) -> None:
    echo = next(w for w in client.workers.list() if w.name == "Echo")
    models = client.openai.models.list()
    assert echo.peer_id in {m.id for m in models.data}
    done = client.openai.chat.completions.create(
        model=echo.peer_id, messages=[{"role": "user", "content": "hey"}]
    )
    assert done.choices[0].message.content == "user: hey\n\nassistant:\n\n"
    chunks = list(
        client.openai.chat.completions.create(
            model=echo.peer_id, messages=[{"role": "user", "content": "hey"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "user: hey\n\nassistant:\n\n"
    with pytest.raises(ModelNotFoundError):
        client.openai.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )


def test_typed_errors(gateway: Any, start_gateway: Any, api_key: str) -> None:
    with AgentFMClient(gateway.url, api_key=None) as c, pytest.raises(WorkerNotFoundError):
        list(c.tasks.stream(worker_id=new_identity().peer_id, prompt="x"))
    gw = start_gateway(api_keys=[api_key])
    with AgentFMClient(gw.url, api_key=None) as anon, pytest.raises(AuthenticationError) as info:
        anon.workers.list()
    assert info.value.code == "unauthorized"
    with (
        AgentFMClient(gw.url, api_key="wrong-key-wrong-key-wrong") as wrong,
        pytest.raises(AuthenticationError) as info,
    ):
        wrong.workers.list()
    assert info.value.code == "invalid_api_key"
    with AgentFMClient(gw.url, api_key=api_key) as ok:
        assert ok.workers.list()


async def test_async_client(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as c:
        workers = await c.workers.list()
        poet = next(w for w in workers if w.name == "Poet")
        lines = [chunk.text async for chunk in c.tasks.stream(worker_id=poet.peer_id, prompt="x")]
    text = "".join(lines)
    assert len(text.splitlines()) >= 10


def test_submit_async_webhook_verified_by_sdk_receiver(start_gateway: Any) -> None:
    from agentfm.webhook import WebhookReceiver

    secret = "sdk-webhook-secret-123"
    got: list[Any] = []
    done = threading.Event()

    def on_hook(payload: Any) -> None:
        got.append(payload)
        done.set()

    gw = start_gateway(env={"AGENTFM_WEBHOOK_SECRET": secret, "AGENTFM_WEBHOOK_ALLOW_PRIVATE": "1"})
    with WebhookReceiver(port=0, callback=on_hook, secret=secret) as receiver:
        port = receiver._server.server_address[1]  # type: ignore[union-attr]
        with AgentFMClient(gw.url, api_key=None) as c:
            echo = next(w for w in c.workers.list() if w.name == "Echo")
            ack = c.tasks.submit_async(
                worker_id=echo.peer_id, prompt="hook me", webhook_url=f"http://127.0.0.1:{port}/cb"
            )
        assert done.wait(30), gw.log_tail(20)
    # the receiver only calls back for a body whose signature verified
    assert got[0].task_id == ack.task_id
    assert got[0].worker_id == echo.peer_id
    assert got[0].status == "completed"
