"""``match_model``: the gateway's routing tiers, shared by widgets, magics and scatter_by_model."""

from __future__ import annotations

from typing import Any

import pytest

from agentfm_nb.client import AgentFMClient, AsyncAgentFMClient, PeerID, WorkerProfile
from agentfm_nb.client._shared import match_model, pick_least_loaded
from agentfm_nb.errors import WorkerNotFoundError

PEER = "12D3KooW" + "A" * 44


def _w(name: str, engine: str, *, peer: str | None = None, cur: int = 0, mx: int = 2) -> Any:
    return WorkerProfile(
        peer_id=PeerID(peer or f"12D3KooW{name:A<44}"),
        name=name,
        hardware=f"{engine} (CPU: 4 Cores)",
        current_tasks=cur,
        max_tasks=mx,
        status="BUSY" if cur >= mx else "AVAILABLE",
    )


WORKERS = [
    _w("Poet", "llama3.2", cur=1),
    _w("Analyst", "llama3.2"),
    _w("echo", "qwen2.5", peer=PEER),  # an agent NAMED like another worker's engine
    _w("Echo2", "echo"),
]


def test_tiers_first_hit_wins() -> None:
    assert [w.name for w in match_model(WORKERS, PEER)] == ["echo"]
    assert [w.name for w in match_model(WORKERS, "POET")] == ["Poet"]
    assert [w.name for w in match_model(WORKERS, "Llama3.2")] == ["Poet", "Analyst"]
    # the name tier beats the engine tier, as in the gateway
    assert [w.name for w in match_model(WORKERS, "echo")] == ["echo"]
    assert match_model(WORKERS, "nobody") == []
    assert len(match_model(WORKERS, None)) == len(WORKERS)


def test_offline_workers_never_match() -> None:
    gone = _w("Ghost", "echo")
    gone.online = False
    assert match_model([gone], "Ghost") == [] and match_model([gone], None) == []


def test_least_loaded_with_capacity() -> None:
    llamas = match_model(WORKERS, "llama3.2")
    best = pick_least_loaded(llamas)
    assert best is not None and best.name == "Analyst"
    assert pick_least_loaded([_w("Full", "x", cur=2, mx=2)]) is None


def test_scatter_by_model_keeps_sdk_semantics_and_accepts_names(gateway: Any) -> None:
    with AgentFMClient(gateway.url) as client:
        names = {str(w.peer_id): w.name for w in client.workers.list()}
        # SDK semantics: model= is the advertised engine
        rows = client.tasks.scatter_by_model(["a", "b", "c", "d"], model="llama3.2")
        assert {names[str(r.worker_id)] for r in rows} <= {"Poet", "Analyst"}
        # where the SDK would raise, an agent name (or a peer id) now works
        rows = client.tasks.scatter_by_model(["a", "b"], model="analyst")
        assert [r.status for r in rows] == ["success", "success"]
        assert {names[str(r.worker_id)] for r in rows} == {"Analyst"}
        with pytest.raises(WorkerNotFoundError):
            client.tasks.scatter_by_model(["a"], model="nobody")


async def test_async_scatter_by_model_accepts_a_peer_id(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url) as client:
        scribe = next(w for w in await client.workers.list() if w.name == "Scribe")
        rows = await client.tasks.scatter_by_model(["x"], model=str(scribe.peer_id))
        assert rows[0].status == "success" and rows[0].worker_id == scribe.peer_id
