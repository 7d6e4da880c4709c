"""OpenGPU agent on anvil: sequential vs pipelined attempts (also with injected stalls), the
time to heal a stall, and TaskPublished → mined attempt.

    python bench/bench_ogpu.py [--n 200] [--interval-seq-n 20] [--block-time 1]

Runs twice, each on its own anvil (npm ``@foundry-rs/anvil`` in tests/chain) with the test
contracts: automine (one block per transaction, so a receipt is ready at once and waiting for it
costs little) and interval mining (``--block-time``, like a real chain, where a sequential agent
waits a block per transaction). Pipelined = ``Agent.attempt_many`` (simulate, send and poll
receipts through JSON-RPC batches); "per-tx submit" = ``submit_attempt`` in a loop, then ``wait``
on each (every RPC one after another).

"with stalls" injects the stall anvil shows under load, once per 200 transactions: nonce k is
taken and never sent, so k+1.. sit in the node's queued set, then ``anvil_setNonce`` plays k
being mined without passing through the pool; k+1 is then known, never mined, and its pending
count stops there. The agent's own waiters must notice and re-send it. "time to heal" runs from
the injection to the receipt of the stalled transaction.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import Row, print_table

from agentfm_nb.ogpu import nonces
from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.devchain import LocalChain
from agentfm_nb.ogpu.events import ChainEvent, EventFeed, TaskPublished
from agentfm_nb.ogpu.tx import Receipt

MASTER, PROVIDER, AGENT = 1, 2, 3


def _gap_free(receipts: list[Receipt]) -> None:
    used = sorted(r.nonce for r in receipts)
    assert used == list(range(used[0], used[0] + len(used))), "nonce gap"
    assert all(r.ok for r in receipts)


def _latency(
    chain: LocalChain, agent: Agent, source: str, provider: str, tasks: int, poll: float
) -> list[float]:
    """Follow the chain like the console does; attempt every published task at once."""
    published: dict[str, float] = {}
    latencies: list[float] = []
    done = threading.Event()

    def on_event(ev: ChainEvent) -> None:
        if not isinstance(ev, TaskPublished):
            return
        deadline = time.monotonic() + 5  # the event can arrive before publish_task returns
        while ev.task not in published and time.monotonic() < deadline:
            time.sleep(0.0005)
        if ev.task in published:
            agent.attempt(ev.task, provider, 1)
            latencies.append(time.perf_counter() - published[ev.task])
            if len(latencies) >= tasks:
                done.set()

    follower = EventFeed(agent.conn).start(on_event, poll_interval=poll)
    try:
        for _ in range(tasks):
            # the event exists on chain when publish_task returns: start the clock there
            t = chain.publish_task(source)
            published[t] = time.perf_counter()
            time.sleep(0.05)
        done.wait(120)
    finally:
        follower.stop()
    return sorted(latencies)


def _with_stalls(
    chain: LocalChain, agent: Agent, task: str, provider: str, n: int, every: int = 200
) -> tuple[float, list[Receipt], list[float]]:
    """``attempt_many`` in rounds of ``every``, one injected stall per round: (seconds,
    receipts, per-stall heal times)."""
    heals: list[float] = []
    receipts: list[Receipt] = []
    mined_at: dict[int, float] = {}
    agent.add_listener(
        lambda rec: (
            mined_at.setdefault(rec.nonce, time.perf_counter()) if rec.state == "mined" else None
        )
    )
    started = time.perf_counter()
    for first in range(0, n, every):
        with agent.nonces.reserve(agent._tx) as held:  # taken, never sent
            pass
        sent = agent.submit_many(
            "attempt",
            [
                {"task": task, "provider": provider, "suggested_payment": i}
                for i in range(first, min(n, first + every))
            ],
        )
        chain.rpc("anvil_setNonce", agent.address, hex(held + 1))
        injected = time.perf_counter()
        results = agent.wait_all(sent, timeout=120)
        done = [r for r in results if isinstance(r, Receipt)]
        assert len(done) == len(sent), [r for r in results if not isinstance(r, Receipt)][:3]
        assert done[0].nonce == held + 1 and done[0].resends >= 1, "stall not healed by re-send"
        receipts += done
        heals.append(mined_at[held + 1] - injected)
    return time.perf_counter() - started, receipts, heals


def run(label: str, extra: list[str], n: int, n_seq: int, tasks: int, poll: float) -> list[Row]:
    nonces.reset_all()
    with LocalChain(extra_args=extra) as chain:
        config = chain.deploy()
        chain.set_master(PROVIDER, MASTER)
        agent = Agent(config, chain.dev_key(AGENT))
        chain.set_agent(MASTER, agent.address)
        source = chain.publish_source()
        provider = chain.dev_address(PROVIDER)
        agent.register_to(source, provider, 1)
        task = chain.publish_task(source, payment=10**18)

        t0 = time.perf_counter()
        sequential = [agent.attempt(task, provider, i) for i in range(n_seq)]
        seq_rate = n_seq / (time.perf_counter() - t0)
        _gap_free(sequential)

        t0 = time.perf_counter()
        pending = [agent.submit_attempt(task, provider, i) for i in range(n)]
        per_tx = [p.wait(120) for p in pending]
        per_tx_rate = n / (time.perf_counter() - t0)
        _gap_free(per_tx)

        t0 = time.perf_counter()
        results = agent.attempt_many([(task, provider, i) for i in range(n)], timeout=120)
        batch_rate = n / (time.perf_counter() - t0)
        batched = [r for r in results if isinstance(r, Receipt)]
        assert len(batched) == n, [r for r in results if not isinstance(r, Receipt)][:3]
        _gap_free(batched)
        blocks = len({r.block_number for r in batched})

        stall_s, stalled, heals = _with_stalls(chain, agent, task, provider, n)
        _gap_free(stalled)
        stall_rate = n / stall_s

        latencies = _latency(chain, agent, source, provider, tasks, poll)

    seq_note = f"peer = {n_seq} attempt() calls one after another, each waiting its receipt"
    if n_seq != n:
        seq_note += f" (fewer than {n}: ~1 block each)"
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return [
        Row(
            f"[{label}] attempts/s attempt_many vs sequential",
            batch_rate,
            seq_rate,
            "tx/s",
            note=f"{n} attempts in {blocks} blocks; {seq_note}",
        ),
        Row(
            f"[{label}] attempts/s attempt_many, 1 stall per 200, vs sequential",
            stall_rate,
            seq_rate,
            "tx/s",
            note=f"{len(heals)} stall(s) injected and healed by the waiters, no restart",
        ),
        Row(
            f"[{label}] time to heal a stall (injection → receipt)",
            statistics.median(heals) * 1000,
            None,
            "ms",
            higher_is_better=False,
            note="median; detection from txpool_inspect (queued at the account nonce)",
        ),
        Row(
            f"[{label}] attempts/s per-tx submit vs sequential",
            per_tx_rate,
            seq_rate,
            "tx/s",
            note=f"{n} submit_attempt() then wait() each",
        ),
        Row(
            f"[{label}] TaskPublished → mined attempt, median",
            statistics.median(latencies) * 1000,
            None,
            "ms",
            higher_is_better=False,
            note=f"{len(latencies)} tasks, follower poll {poll * 1000:.0f} ms",
        ),
        Row(
            f"[{label}] TaskPublished → mined attempt, p95",
            p95 * 1000,
            None,
            "ms",
            higher_is_better=False,
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--interval-seq-n", type=int, default=20, help="sequential N, interval mode")
    ap.add_argument("--block-time", default="1", help="anvil --block-time for interval mode (s)")
    ap.add_argument("--latency-tasks", type=int, default=30)
    ap.add_argument("--interval-latency-tasks", type=int, default=5)
    ap.add_argument("--poll", type=float, default=0.02, help="follower poll interval (s)")
    opts = ap.parse_args()

    rows = run("automine", [], opts.n, opts.n, opts.latency_tasks, opts.poll)
    rows += run(
        f"{opts.block_time} s blocks",
        ["--block-time", opts.block_time],
        opts.n,
        opts.interval_seq_n,
        opts.interval_latency_tasks,
        opts.poll,
    )
    print_table(
        f"ogpu agent on anvil ({opts.n} pipelined attempts per mode)",
        rows,
        ours="pipelined",
        peer="sequential",
    )


if __name__ == "__main__":
    main()
