"""The SDK surface end to end against the session's embedded demo gateway, both twins."""

from __future__ import annotations

import asyncio
import warnings
from contextlib import aclosing
from typing import Any

import pytest

from agentfm_nb import AgentFMClient, AsyncAgentFMClient
from agentfm_nb.client import (
    AgentFMRoutingWarning,
    TaskFinished,
    TaskStarted,
    WorkerNotFoundError,
)
from agentfm_nb.client.resources.openai import reset_routing_warning


@pytest.fixture
def client(gateway: Any) -> Any:
    with AgentFMClient(gateway.url, artifacts_dir=gateway.artifacts_dir, api_key=None) as c:
        yield c


def _t(text: str | None) -> str:
    """An agent's output without its trailing newlines (the worker ends a stream with one)."""
    return (text or "").rstrip("\n")


def _peer(c: AgentFMClient, name: str) -> str:
    return c.workers.list(agent_name=name)[0].peer_id


def test_workers_list_filters_and_get(client: AgentFMClient) -> None:
    workers = client.workers.list()
    assert {w.name for w in workers} >= {"Echo", "Poet", "Scribe", "Analyst"}
    llama = client.workers.list(model="LLAMA3.2")
    assert {w.name for w in llama} == {"Poet", "Analyst"}
    assert all(w.engine == "llama3.2" and w.peer_id.startswith("12D3KooW") for w in llama)
    assert [w.name for w in client.workers.list(author="ALICE")] == ["Poet"]
    echo = client.workers.get(_peer(client, "echo"))
    assert echo.max_tasks == 8 and echo.online and echo.last_seen
    with pytest.raises(WorkerNotFoundError):
        client.workers.get("12D3KooWNotARealPeerButLongEnoughToLookLikeOne12345")
    assert client.workers.list(model="nope", wait_for_workers=1, poll_timeout=0.3) == []
    df = client.workers.to_dataframe(model="llama3.2")
    assert len(df) == 2


def test_run_stream_and_artifacts(client: AgentFMClient) -> None:
    result = client.tasks.run(worker_id=_peer(client, "echo"), prompt="hello\nworld")
    assert _t(result.text) == "hello\nworld"
    assert result.artifacts == [] and result.duration_seconds > 0
    scribe = client.tasks.run(worker_id=_peer(client, "scribe"), prompt="quarterly")
    assert [p.name for p in scribe.artifacts] == ["report.md"]
    assert scribe.artifacts[0].is_relative_to(client.artifacts_dir or "")
    chunks = list(client.tasks.stream(worker_id=_peer(client, "scribe"), prompt="x"))
    assert chunks[-1].kind == "marker" and chunks[-1].text == ""  # FILES_INCOMING, as the SDK
    assert all("[AGENTFM:" not in c.text for c in chunks if c.kind == "text")


def test_openai_namespace_sync(client: AgentFMClient) -> None:
    peer = _peer(client, "echo")
    resp = client.openai.chat.completions.create(
        model=peer, messages=[{"role": "user", "content": "hi"}]
    )
    assert _t(resp.choices[0].message.content) == "user: hi\n\nassistant:"
    pieces = [
        ch.choices[0].delta.content
        for ch in client.openai.chat.completions.create(
            model=peer, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        if ch.choices and ch.choices[0].delta.content
    ]
    assert _t("".join(pieces)) == "user: hi\n\nassistant:"
    comp = client.openai.completions.create(model=peer, prompt="abc")
    assert _t(comp.choices[0].text) == "abc"
    models = client.openai.models.list()
    assert peer in [m.id for m in models]
    assert any(m.agentfm_name == "Echo" for m in models)


def test_routing_warning_once(client: AgentFMClient) -> None:
    reset_routing_warning()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            client.openai.completions.create(model="echo", prompt="a")
    routing = [w for w in seen if issubclass(w.category, AgentFMRoutingWarning)]
    assert len(routing) == 1
    assert routing[0].filename == __file__


def test_scatter_family(client: AgentFMClient) -> None:
    peers = [w.peer_id for w in client.workers.list(agent_name="echo")]
    prompts = [f"p{i}" for i in range(20)]
    results = client.tasks.scatter(prompts, peer_ids=peers, max_concurrency=4)
    assert [_t(r.text) for r in results] == prompts
    assert all(r.status == "success" and r.worker_id == peers[0] for r in results)
    by_model = client.tasks.scatter_by_model(["a", "b"], model="echo", max_workers=1)
    assert [_t(r.text) for r in by_model] == ["a", "b"]
    seen = dict(client.tasks.scatter_iter(["x", "y", "z"], peer_ids=peers))
    assert sorted(seen) == [0, 1, 2] and _t(seen[2].text) == "z"
    with pytest.raises(WorkerNotFoundError):
        client.tasks.scatter_by_model(["a"], model="no-such-engine")


def test_options_repr_and_ping(client: AgentFMClient, gateway: Any) -> None:
    assert client.ping()
    derived = client.with_options(retries=0, api_key="a-derived-key-0123456789")
    try:
        assert derived.gateway_url == client.gateway_url and derived.retries == 0
        assert derived.api_key == "a-derived-key-0123456789"
        assert "a-derived-key" not in repr(derived) and "a-derived-key" not in repr(
            derived._options
        )
        cleared = derived.with_options(api_key=None)
        assert cleared.api_key is None and "authorization" not in cleared._http.headers
        cleared.close()
    finally:
        derived.close()
    # read-after-construction: mutating the attribute does not change the header
    derived2 = client.with_options(api_key="first-key-0123456789")
    derived2.api_key = "second-key-0123456789"
    assert derived2._http.headers["authorization"] == "Bearer first-key-0123456789"
    derived2.close()
    assert client.health()["status"] == "ok"


async def test_async_twin(gateway: Any) -> None:
    async with AsyncAgentFMClient(
        gateway.url, artifacts_dir=gateway.artifacts_dir, api_key=None
    ) as c:
        assert await c.ping()
        echo = (await c.workers.list(agent_name="Echo"))[0]
        assert (await c.workers.get(echo.peer_id)).name == "Echo"
        r = await c.tasks.run(worker_id=echo.peer_id, prompt="async")
        assert _t(r.text) == "async"
        texts = [ch.text async for ch in c.tasks.stream(worker_id=echo.peer_id, prompt="s")]
        assert _t("".join(texts)) == "s"  # NO_FILES is never a chunk (the SDK's contract)
        scribe = (await c.workers.list(agent_name="scribe"))[0]
        r = await c.tasks.run(worker_id=scribe.peer_id, prompt="async report")
        assert [p.name for p in r.artifacts] == ["report.md"]
        ack = await c.tasks.submit_async(worker_id=echo.peer_id, prompt="later")
        assert ack.task_id and ack.status == "queued"

        stream = await c.openai.chat.completions.create(
            model=echo.peer_id, messages=[{"role": "user", "content": "yo"}], stream=True
        )
        got = [ch.choices[0].delta.content async for ch in stream if ch.choices]
        assert _t("".join(x for x in got if x)) == "user: yo\n\nassistant:"
        resp = await c.openai.chat.completions.create(
            model=echo.peer_id, messages=[{"role": "user", "content": "yo"}]
        )
        assert _t(resp.choices[0].message.content) == "user: yo\n\nassistant:"
        assert len(await c.openai.models.list()) >= 4

        results = await c.tasks.scatter(["1", "2", "3"], peer_ids=[echo.peer_id])
        assert [_t(x.text) for x in results] == ["1", "2", "3"]
        pairs = [p async for p in c.tasks.scatter_iter(["a", "b"], peer_ids=[echo.peer_id])]
        assert sorted(i for i, _ in pairs) == [0, 1]
        info = await c.peers.get(echo.peer_id)
        rep = await c.peers.reputation(echo.peer_id)
        assert info.agent_name == "Echo" and rep.peer_id == echo.peer_id


async def test_aclosing_releases_early(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as c:
        poet = (await c.workers.list(agent_name="Poet"))[0]
        async with aclosing(c.tasks.stream(worker_id=poet.peer_id, prompt="p")) as stream:
            async for chunk in stream:
                assert chunk.kind == "text"
                break
        # the agent is stopped and the slot freed soon after the response closes
        for _ in range(50):
            if (await c.workers.get(poet.peer_id)).current_tasks == 0:
                break
            await asyncio.sleep(0.1)
        assert (await c.workers.get(poet.peer_id)).current_tasks == 0


async def test_events_stream_typed(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as c:
        echo = (await c.workers.list(agent_name="Echo"))[0]
        seen: list[Any] = []

        async def watch() -> None:
            async for ev in c.events.stream():
                seen.append(ev)
                if isinstance(ev, TaskFinished):
                    return

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.3)
        await c.tasks.run(worker_id=echo.peer_id, prompt="evt")
        await asyncio.wait_for(watcher, 10)
        started = [e for e in seen if isinstance(e, TaskStarted)]
        assert started and started[-1].peer_id == echo.peer_id


def test_events_stream_sync(client: AgentFMClient) -> None:
    import threading

    peer = _peer(client, "echo")
    timer = threading.Timer(0.3, lambda: client.tasks.run(worker_id=peer, prompt="e"))
    timer.start()
    stream = client.events.stream()
    for ev in stream:
        if isinstance(ev, TaskFinished):
            assert ev.status
            break
    stream.close()
    timer.join(10)  # the run may still be reading its sentinel; let it end before the client does
