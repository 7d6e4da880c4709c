"""The scatter engine on its own, driven by a real in-test ``run_one`` coroutine.

The engine is pure scheduling logic over the coroutine it is given, so a coroutine that sleeps,
fails or hangs per peer exercises exactly what the clients exercise over HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest

from agentfm_nb.errors import WorkerStreamError, WorkerUnreachableError
from agentfm_nb.scatter import (
    ScatterCancelled,
    ScatterEvent,
    ScatterResult,
    ScatterResults,
    ScatterRun,
    scatter,
    scatter_iter,
)


@dataclass
class Peer:
    peer_id: str
    max_tasks: int = 1
    current_tasks: int = 0


@dataclass
class Out:
    text: str
    worker_id: str
    artifacts: list[str] = field(default_factory=list)


class Pool:
    """Records what the engine does: concurrency (global and per peer), calls, cancellations."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        failing: frozenset[str] = frozenset(),
        hanging: frozenset[str] = frozenset(),
        bad_prompts: frozenset[str] = frozenset(),
        delays: dict[str, float] | None = None,
    ) -> None:
        self.delay = delay
        self.failing = failing
        self.hanging = hanging
        self.bad_prompts = bad_prompts
        self.delays = delays or {}
        self.inflight = 0
        self.peak = 0
        self.per_peer: Counter[str] = Counter()
        self.peak_per_peer: Counter[str] = Counter()
        self.calls: list[tuple[str, str]] = []
        self.cancelled: list[tuple[str, str]] = []

    async def run_one(self, peer_id: str, prompt: str) -> Out:
        self.calls.append((peer_id, prompt))
        self.inflight += 1
        self.per_peer[peer_id] += 1
        self.peak = max(self.peak, self.inflight)
        self.peak_per_peer[peer_id] = max(self.peak_per_peer[peer_id], self.per_peer[peer_id])
        try:
            if peer_id in self.hanging:
                await asyncio.sleep(3600)
            await asyncio.sleep(self.delays.get(prompt, self.delay))
            if peer_id in self.failing:
                raise WorkerStreamError(f"agent on {peer_id} exited 1", code="worker_stream_failed")
            if prompt in self.bad_prompts:
                raise WorkerUnreachableError("cannot dial", status=500)
            return Out(text=f"echo:{prompt}", worker_id=peer_id)
        except asyncio.CancelledError:
            self.cancelled.append((peer_id, prompt))
            raise
        finally:
            self.inflight -= 1
            self.per_peer[peer_id] -= 1


def prompts(n: int) -> list[str]:
    return [f"p{i}" for i in range(n)]


async def test_results_in_input_order_with_texts() -> None:
    pool = Pool(delays={f"p{i}": 0.001 * ((i * 7) % 5) for i in range(40)})
    peers = [Peer("A", 2), Peer("B", 2), Peer("C", 1)]
    res = await scatter(prompts(40), run_one=pool.run_one, peers=peers)
    assert isinstance(res, ScatterResults)
    assert [r.prompt for r in res] == prompts(40)
    assert [r.index for r in res] == list(range(40))
    assert all(r.status == "success" and r.text == f"echo:{r.prompt}" for r in res)
    assert all(r.attempts == 1 and r.latency_s >= 0 for r in res)
    assert {r.worker_id for r in res} == {"A", "B", "C"}
    assert len(res.succeeded) == 40 and res.failed == []


async def test_default_concurrency_is_free_slots_and_per_peer_caps_hold() -> None:
    pool = Pool(delay=0.01)
    # B already runs 2 of its 3 slots elsewhere: only 1 is ours.
    peers = [Peer("A", 4), Peer("B", 3, current_tasks=2), Peer("C", 2)]
    res = await scatter(prompts(60), run_one=pool.run_one, peers=peers)
    assert all(r.ok for r in res)
    assert pool.peak == 4 + 1 + 2
    assert pool.peak_per_peer == Counter({"A": 4, "B": 1, "C": 2})


async def test_global_max_concurrency_bounds_inflight() -> None:
    pool = Pool(delay=0.005)
    peers = [Peer(f"P{i}", 4) for i in range(4)]
    res = await scatter(prompts(50), run_one=pool.run_one, peers=peers, max_concurrency=3)
    assert all(r.ok for r in res)
    assert pool.peak == 3
    # least-loaded choice spreads 3 slots over 3 different peers, never stacking one
    assert max(pool.peak_per_peer.values()) == 1


async def test_failover_goes_to_a_different_peer() -> None:
    pool = Pool(delay=0.002, failing=frozenset({"BAD"}))
    peers = [Peer("BAD", 2), Peer("A", 2), Peer("B", 2), Peer("C", 2)]
    res = await scatter(prompts(40), run_one=pool.run_one, peers=peers, max_retries=2)
    assert all(r.status == "success" for r in res)
    assert all(r.worker_id != "BAD" for r in res)
    tried: dict[str, list[str]] = defaultdict(list)
    for peer, prompt in pool.calls:
        tried[prompt].append(peer)
    retried = [p for p, seq in tried.items() if seq[0] == "BAD"]
    assert retried, "the failing peer got some first attempts"
    for p in retried:
        assert tried[p][1] != "BAD"
        assert res[int(p[1:])].attempts == 2


async def test_retries_exhausted_keep_typed_error() -> None:
    pool = Pool(failing=frozenset({"A", "B"}))
    res = await scatter(
        prompts(3), run_one=pool.run_one, peers=[Peer("A"), Peer("B")], max_retries=3
    )
    for r in res:
        assert r.status == "failed"
        assert r.attempts == 4
        assert r.error_type == "WorkerStreamError"
        assert r.error is not None and r.error.startswith("agent on ")
        assert r.worker_id in {"A", "B"}
        assert r.text == ""
    # with two peers, consecutive attempts of one prompt alternate between them
    seq = [peer for peer, prompt in pool.calls if prompt == "p0"]
    assert all(a != b for a, b in itertools.pairwise(seq))


async def test_non_agentfm_exception_becomes_a_row() -> None:
    async def boom(peer_id: str, prompt: str) -> Out:
        raise OSError("disk full")

    res = await scatter(["x"], run_one=boom, peers=[Peer("A")], max_retries=0)
    assert res[0].status == "failed"
    assert res[0].error_type == "OSError" and res[0].error == "disk full"


async def test_timeout_cancels_attempt_and_retries_elsewhere() -> None:
    pool = Pool(hanging=frozenset({"SLOW"}))
    peers = [Peer("SLOW", 1), Peer("FAST", 1)]
    res = await scatter(
        prompts(4), run_one=pool.run_one, peers=peers, task_timeout=0.1, max_retries=1
    )
    assert all(r.status == "success" and r.worker_id == "FAST" for r in res)
    assert pool.cancelled == [("SLOW", "p0")] or all(p == "SLOW" for p, _ in pool.cancelled)
    assert pool.cancelled, "the hanging attempt was cancelled, not left running"
    assert any(r.attempts == 2 for r in res)


async def test_timeout_error_type_when_no_retry() -> None:
    pool = Pool(hanging=frozenset({"SLOW"}))
    res = await scatter(
        ["x"], run_one=pool.run_one, peers=[Peer("SLOW")], task_timeout=0.05, max_retries=0
    )
    assert res[0].status == "failed" and res[0].error_type == "TimeoutError"
    assert res[0].error == "timed out after 0.05s"
    assert pool.inflight == 0


async def test_on_error_stop_cancels_the_rest() -> None:
    delays = {f"p{i}": 0.5 for i in range(1, 10)}
    delays["p0"] = 0.01
    pool = Pool(delays=delays, bad_prompts=frozenset({"p0"}))
    peers = [Peer("A", 2), Peer("B", 2)]
    res = await scatter(
        prompts(10), run_one=pool.run_one, peers=peers, max_retries=0, on_error="stop"
    )
    assert res[0].status == "failed" and res[0].error_type == "WorkerUnreachableError"
    assert [r.status for r in res[1:]] == ["cancelled"] * 9
    assert {r.error_type for r in res[1:]} == {"CancelledError"}
    # the three attempts in flight were cancelled (their streams closed), nothing left running
    assert sorted(p for _, p in pool.cancelled) == ["p1", "p2", "p3"]
    assert pool.inflight == 0
    # in-flight rows remember their peer, never-started rows have none
    assert res[1].worker_id in {"A", "B"} and res[9].worker_id is None


async def test_on_error_stop_keeps_already_finished_rows() -> None:
    delays = {"p0": 0.0, "p1": 0.05}
    pool = Pool(delays=delays, bad_prompts=frozenset({"p1"}))
    res = await scatter(
        prompts(2), run_one=pool.run_one, peers=[Peer("A", 2)], max_retries=0, on_error="stop"
    )
    assert [r.status for r in res] == ["success", "failed"]


async def test_scatter_iter_yields_as_completed() -> None:
    n = 6
    pool = Pool(delays={f"p{i}": 0.02 * (n - i) for i in range(n)})
    seen: list[int] = []
    async for index, row in scatter_iter(prompts(n), run_one=pool.run_one, peers=[Peer("A", n)]):
        assert isinstance(row, ScatterResult) and row.prompt == f"p{index}"
        seen.append(index)
    assert seen == list(reversed(range(n)))


async def test_scatter_iter_break_cancels_the_rest() -> None:
    pool = Pool(delays={"p0": 0.0, "p1": 5.0, "p2": 5.0})
    agen = scatter_iter(prompts(3), run_one=pool.run_one, peers=[Peer("A", 3)])
    async for index, _row in agen:
        assert index == 0
        break
    await agen.aclose()  # type: ignore[attr-defined]
    assert sorted(p for _, p in pool.cancelled) == ["p1", "p2"]
    assert pool.inflight == 0


async def test_event_sequence_for_a_failover() -> None:
    pool = Pool(failing=frozenset({"A"}))
    events: list[ScatterEvent] = []
    res = await scatter(
        ["only"],
        run_one=pool.run_one,
        peers=[Peer("A"), Peer("B")],
        on_event=events.append,
    )
    assert res[0].worker_id == "B"
    assert [(e.state, e.peer_id, e.attempt) for e in events] == [
        ("queued", None, 0),
        ("running", "A", 1),
        ("retrying", "A", 1),
        ("running", "B", 2),
        ("done", "B", 2),
    ]
    assert events[2].error == "agent on A exited 1"
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))


async def test_broken_event_callback_does_not_break_the_batch() -> None:
    def bad(ev: ScatterEvent) -> None:
        raise RuntimeError("grid died")

    res = await scatter(prompts(5), run_one=Pool().run_one, peers=[Peer("A")], on_event=bad)
    assert all(r.ok for r in res)


async def test_cancel_keeps_partial_results() -> None:
    delays = {f"p{i}": (0.0 if i < 3 else 10.0) for i in range(8)}
    pool = Pool(delays=delays)
    three_done = asyncio.Event()
    finished: list[int] = []

    def on_event(ev: ScatterEvent) -> None:
        if ev.state == "done":
            finished.append(ev.index)
            if len(finished) == 3:
                three_done.set()

    task = asyncio.ensure_future(
        scatter(prompts(8), run_one=pool.run_one, peers=[Peer("A", 4)], on_event=on_event)
    )
    await three_done.wait()
    task.cancel()
    with pytest.raises(ScatterCancelled) as info:
        await task
    partial = info.value.partial
    assert [r.status for r in partial] == ["success"] * 3 + ["cancelled"] * 5
    assert [r.prompt for r in partial] == prompts(8)
    assert pool.inflight == 0
    assert sorted(p for _, p in pool.cancelled) == ["p3", "p4", "p5", "p6"]
    assert task.cancelled()


async def test_partial_on_cancel_returns_rows() -> None:
    pool = Pool(delays={"p0": 0.0, "p1": 10.0})
    first_done = asyncio.Event()
    task = asyncio.ensure_future(
        scatter(
            prompts(2),
            run_one=pool.run_one,
            peers=[Peer("A", 2)],
            partial_on_cancel=True,
            on_event=lambda ev: ev.state == "done" and first_done.set(),
        )
    )
    await first_done.wait()
    task.cancel()
    res = await task
    assert [r.status for r in res] == ["success", "cancelled"]


async def test_scatter_run_object_survives_cancel() -> None:
    pool = Pool(delays={"p0": 0.0, "p1": 10.0})
    run = ScatterRun(prompts(2), run_one=pool.run_one, peers=[Peer("A", 2)])
    async with run:
        async for index, _ in run:
            assert index == 0
            with pytest.raises(RuntimeError, match="still running"):
                run.results()
            break
    assert [r.status for r in run.partial()] == ["success", "cancelled"]
    assert [r.status for r in run.results()] == ["success", "cancelled"]
    assert pool.cancelled == [("A", "p1")]


async def test_aretry_failed_reruns_only_failures() -> None:
    broken = {"p1", "p3"}

    async def flaky(peer_id: str, prompt: str) -> Out:
        calls[prompt] += 1
        if prompt in broken:
            raise WorkerStreamError("boom")
        return Out(text=prompt.upper(), worker_id=peer_id)

    calls: Counter[str] = Counter()
    events: list[ScatterEvent] = []
    first = await scatter(
        prompts(5),
        run_one=flaky,
        peers=[Peer("A", 2)],
        max_retries=1,
        on_event=events.append,
    )
    assert [r.status for r in first] == ["success", "failed", "success", "failed", "success"]
    broken.clear()  # the mesh is healthy again
    events.clear()
    second = await first.aretry_failed()
    assert [r.status for r in second] == ["success"] * 5
    assert [r.text for r in second] == ["P0", "P1", "P2", "P3", "P4"]
    assert second[0] is first[0] and second[2] is first[2]  # successes untouched
    assert calls == Counter({"p0": 1, "p1": 3, "p2": 1, "p3": 3, "p4": 1})
    assert [r.attempts for r in second] == [1, 3, 1, 3, 1]
    assert [r.index for r in second] == list(range(5))
    # events of the re-run carry the original positions
    assert {e.index for e in events} == {1, 3}


def test_sync_retry_failed_through_the_portal() -> None:
    state = {"healthy": False}

    async def run_one(peer_id: str, prompt: str) -> Out:
        await asyncio.sleep(0)
        if not state["healthy"]:
            raise WorkerStreamError("down")
        return Out(text="ok", worker_id=peer_id)

    first = asyncio.run(scatter(prompts(3), run_one=run_one, peers=[Peer("A")], max_retries=0))
    assert len(first.failed) == 3
    state["healthy"] = True
    second = first.retry_failed()
    assert [r.status for r in second] == ["success"] * 3
    assert "success=3" in repr(second)


async def test_callable_peers_are_relisted_on_failover() -> None:
    listings = 0

    async def list_peers() -> list[Peer]:
        nonlocal listings
        listings += 1
        if listings == 1:
            return [Peer("OLD", 1)]
        return [Peer("OLD", 1), Peer("NEW", 1)]

    pool = Pool(failing=frozenset({"OLD"}))
    res = await scatter(["x"], run_one=pool.run_one, peers=list_peers, max_retries=1)
    assert res[0].status == "success" and res[0].worker_id == "NEW"
    assert listings >= 2


async def test_string_peer_ids_and_busy_mesh() -> None:
    pool = Pool(delay=0.001)
    res = await scatter(prompts(20), run_one=pool.run_one, peers=["A", "B"])
    assert all(r.ok for r in res) and pool.peak <= 8
    # all workers busy at start: still dispatches (the gateway would answer 503 and we retry)
    pool = Pool()
    res = await scatter(prompts(4), run_one=pool.run_one, peers=[Peer("A", 2, current_tasks=2)])
    assert all(r.ok for r in res) and pool.peak_per_peer["A"] <= 2


async def test_many_tasks_fill_every_slot() -> None:
    pool = Pool(delay=0.0)
    peers = [Peer(f"W{i}", 4) for i in range(16)]
    res = await scatter(prompts(2000), run_one=pool.run_one, peers=peers)
    assert len(res) == 2000 and all(r.ok for r in res)
    assert pool.peak == 64
    assert set(pool.peak_per_peer.values()) == {4}
    per_peer = Counter(r.worker_id for r in res)
    assert min(per_peer.values()) > 2000 / 16 / 2  # least-loaded spreads the work


async def test_bad_arguments() -> None:
    run_one = Pool().run_one
    with pytest.raises(ValueError, match="at least one peer"):
        await scatter(["x"], run_one=run_one, peers=[])
    with pytest.raises(TypeError):
        await scatter("abc", run_one=run_one, peers=["A"])
    with pytest.raises(ValueError):
        await scatter(["x"], run_one=run_one, peers=["A"], on_error="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await scatter(["x"], run_one=run_one, peers=["A"], max_concurrency=0)
    assert await scatter([], run_one=run_one, peers=["A"]) == []


async def test_capacity_refusals_bounce_without_using_retries_and_size_the_peer() -> None:
    from agentfm_nb.client._inband import WorkerAtCapacity

    busy_once: set[str] = set()
    seen: list[str] = []

    async def run_one(peer_id: str, prompt: str) -> Out:
        seen.append(peer_id)
        if peer_id == "a" and prompt not in busy_once:
            busy_once.add(prompt)
            raise WorkerAtCapacity("full", max_tasks=1, output="")
        await asyncio.sleep(0.01)
        return Out(f"ok:{prompt}", peer_id)

    run = ScatterRun(["p0", "p1", "p2", "p3"], run_one=run_one, peers=["a", "b"], max_retries=0)
    rows = await run.wait()
    assert [r.status for r in rows] == ["success"] * 4  # max_retries=0, yet none failed
    assert all(r.attempts == 1 for r in rows)
    assert run._pool._peers["a"].cap == 1  # sized from the refusal's (n/m)


async def test_agent_failure_row_keeps_the_agents_output() -> None:
    from agentfm_nb.client._inband import AgentFailed

    async def run_one(peer_id: str, prompt: str) -> Out:
        raise AgentFailed("ValueError: nope (sandbox exited: exit status 1)", output="partial\n")

    [row] = await scatter(["p"], run_one=run_one, peers=["a"], max_retries=0)
    assert (row.status, row.text, row.error_type) == ("failed", "partial\n", "AgentFailed")
    assert "ValueError: nope" in (row.error or "")
