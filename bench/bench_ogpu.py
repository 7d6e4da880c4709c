"""OpenGPU agent on anvil: sequential vs pipelined attempts, and TaskPublished → mined attempt.

    python bench/bench_ogpu.py [--n 200] [--latency-tasks 30]

Starts its own anvil (npm ``@foundry-rs/anvil`` in tests/chain) and deploys the test contracts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _table import Row, print_table

from agentfm_nb.ogpu import nonces
from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.devchain import LocalChain
from agentfm_nb.ogpu.events import ChainEvent, EventFeed, TaskPublished

MASTER, PROVIDER, AGENT = 1, 2, 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument(
        "--workers", type=int, default=1, help="submit threads (1: one loop; threads contend)"
    )
    ap.add_argument("--latency-tasks", type=int, default=30)
    ap.add_argument("--poll", type=float, default=0.02, help="follower poll interval (s)")
    opts = ap.parse_args()

    with LocalChain() as chain:
        config = chain.deploy()
        chain.set_master(PROVIDER, MASTER)
        agent = Agent(config, chain.dev_key(AGENT))
        chain.set_agent(MASTER, agent.address)
        source = chain.publish_source()
        provider = chain.dev_address(PROVIDER)
        agent.register_to(source, provider, 1)
        task = chain.publish_task(source, payment=10**18)

        t0 = time.perf_counter()
        for i in range(opts.n):
            agent.attempt(task, provider, i)
        sequential = opts.n / (time.perf_counter() - t0)

        nonces.reset_all()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(opts.workers) as pool:
            pending = list(
                pool.map(lambda i: agent.submit_attempt(task, provider, i), range(opts.n))
            )
        receipts = [p.wait(60) for p in pending]
        pipelined = opts.n / (time.perf_counter() - t0)
        used = sorted(r.nonce for r in receipts)
        assert used == list(range(used[0], used[0] + opts.n)), "nonce gap"
        assert all(r.ok for r in receipts)

        # follow the chain like the console does; attempt every published task at once
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
                if len(latencies) >= opts.latency_tasks:
                    done.set()

        follower = EventFeed(agent.conn).start(on_event, poll_interval=opts.poll)
        try:
            for _ in range(opts.latency_tasks):
                # the event exists on chain when publish_task returns: start the clock there
                t = chain.publish_task(source)
                published[t] = time.perf_counter()
                time.sleep(0.05)
            done.wait(60)
        finally:
            follower.stop()

    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    print_table(
        f"ogpu agent on anvil ({opts.n} attempts, {opts.workers} submit threads)",
        [
            Row(
                "attempts/s pipelined vs sequential",
                pipelined,
                sequential,
                "tx/s",
                note="peer column = one after another, waiting each receipt",
            ),
            Row(
                "TaskPublished → mined attempt, median",
                statistics.median(latencies) * 1000,
                None,
                "ms",
                higher_is_better=False,
                note=f"{len(latencies)} tasks, follower poll {opts.poll * 1000:.0f} ms",
            ),
            Row(
                "TaskPublished → mined attempt, p95", p95 * 1000, None, "ms", higher_is_better=False
            ),
        ],
        ours="pipelined",
        peer="sequential",
    )


if __name__ == "__main__":
    main()
