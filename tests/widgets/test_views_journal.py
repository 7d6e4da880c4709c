"""The kernel task journal: bounded, thread-safe, listened to, and fed by every real dispatch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agentfm_nb.client import AgentFMClient, AsyncAgentFMClient
from agentfm_nb.journal import TaskJournal, journal


@pytest.fixture
def fresh() -> Iterator[TaskJournal]:
    journal.clear()
    yield journal
    journal.clear()


def _peer(client: AgentFMClient, name: str) -> str:
    return str(next(w for w in client.workers.list() if w.name == name).peer_id)


def test_bounded_threadsafe_and_listeners_cannot_break_it() -> None:
    j = TaskJournal(maxlen=100)
    seen: list[tuple[str, str]] = []
    j.subscribe(lambda r: seen.append((r.task_id, r.status)))
    j.subscribe(lambda r: 1 / 0)  # a broken view

    def work(k: int) -> None:
        for i in range(50):
            rec = j.started("peerA", f"p{k}-{i}" * 2000, f"t{k}-{i}")
            j.finished(rec, "done")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = j.records()
    assert len(records) == len(j) == 100  # oldest fell off
    assert [r.seq for r in records] == list(range(101, 201))
    assert len(seen) == 400 and sum(s == "done" for _, s in seen) == 200
    assert all(len(r.prompt) == 4000 and r.duration_s is not None for r in records)
    assert j.records(since_seq=195)[0].seq == 196
    j.learn_names([type("W", (), {"peer_id": "peerA", "name": "Echo"})()])
    assert {r.agent for r in j.records()} == {"Echo"}
    unsubscribe = j.subscribe(lambda r: seen.append(("x", "y")))
    unsubscribe()
    j.finished(j.started("peerB", "p", "t"), "failed", error="boom")
    assert ("x", "y") not in seen
    df = j.to_dataframe(peer_id="peerB")
    assert list(df.columns) == [
        "task_id", "prompt", "agent", "peer_id", "status", "started", "duration_s", "error",
        "artifacts", "gateway",
    ]  # fmt: skip
    assert df.iloc[0][["status", "error", "agent"]].tolist() == ["failed", "boom", ""]


def test_real_dispatches_run_stream_scatter_and_artifacts(gateway: Any, fresh: TaskJournal) -> None:
    with AgentFMClient(gateway.url, artifacts_dir=gateway.artifacts_dir) as client:
        echo, scribe = _peer(client, "Echo"), _peer(client, "Scribe")
        assert client.tasks.run(worker_id=echo, prompt="hello").text.strip() == "hello"
        result = client.tasks.run(worker_id=scribe, prompt="tides")
        stream = client.tasks.stream(worker_id=_peer(client, "Poet"), prompt="sea")
        next(iter(stream))
        stream.close()  # left early: the journal says cancelled
        client.tasks.scatter(["a", "b", "c"], peer_ids=[echo])
        journal.learn_names(client.workers.list())
    records = fresh.records()
    assert [r.status for r in records] == ["done"] * 2 + ["cancelled"] + ["done"] * 3
    assert [r.agent for r in records] == ["Echo", "Scribe", "Poet", "Echo", "Echo", "Echo"]
    assert sorted(r.prompt for r in records[3:]) == ["a", "b", "c"]
    assert records[1].task_id == result.task_id
    assert [p.name for p in records[1].artifacts()] == [p.name for p in result.artifacts]
    assert records[1].artifacts() and records[0].artifacts() == []
    assert all(r.gateway == gateway.url.rstrip("/") for r in records)
    df = fresh.to_dataframe()
    assert df["artifacts"].tolist()[1] == ["report.md"]
    assert df["status"].value_counts().to_dict() == {"done": 5, "cancelled": 1}


def test_agent_failure_and_async_cancel_are_recorded(
    start_gateway: Any, write_agent: Any, fresh: TaskJournal
) -> None:
    bad = write_agent("import sys\nprint('partial')\nsys.exit(3)\n", "bad.py")
    slow = write_agent("import time\nprint('tick', flush=True)\ntime.sleep(60)\n", "slow.py")
    gw = start_gateway(bad.worker("Bad") + slow.worker("Slow"))

    async def go() -> None:
        async with AsyncAgentFMClient(gw.url, api_key="k" * 32) as client:
            peers = {w.name: str(w.peer_id) for w in await client.workers.list()}
            # the SDK's contract: run() returns a failed agent's text; the journal still knows
            await client.tasks.run(worker_id=peers["Bad"], prompt="x")
            started = asyncio.Event()
            fresh.subscribe(lambda r: r.prompt == "y" and started.set())  # type: ignore[func-returns-value]
            task = asyncio.ensure_future(client.tasks.run(worker_id=peers["Slow"], prompt="y"))
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(go())
    bad_rec, slow_rec = fresh.records()
    assert bad_rec.status == "failed" and bad_rec.error is not None and "3" in bad_rec.error
    assert slow_rec.status == "cancelled" and slow_rec.error is None
    assert "k" * 32 not in repr(fresh.records()) + fresh.to_dataframe().to_json(date_format="iso")
