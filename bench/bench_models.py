"""Decoding the gateway's answers into the SDK's pydantic models: agentfm_nb vs agentfm-sdk.

Same JSON, already decoded (the transport's job), validated by each library's models:
``/api/workers`` with 1,000 workers (what ``workers.list()`` pays per call) and a 200-entry
``/v1/models``. Ours and the SDK's alternate run by run; each keeps its best of several runs.

    python bench/bench_models.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import agentfm.models as sdk_models
import agentfm.openai.models as sdk_openai

import agentfm_nb.openai.models as our_openai
from agentfm_nb.client.models import parse_workers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import Row, print_table


def workers_body(n: int) -> dict[str, Any]:
    """The real gateway's shape (gateway-protocol.md), with the ledger fields."""
    agents = [
        {
            "peer_id": f"12D3KooW{i:044d}",
            "author": "alice",
            "name": f"Agent {i}",
            "status": "AVAILABLE" if i % 3 else "BUSY",
            "hardware": "llama3.2 (CPU: 12 Cores)",
            "description": "sick-leave policy specialist",
            "cpu_usage_pct": 24.0,
            "ram_free_gb": 12.5,
            "current_tasks": i % 4,
            "max_tasks": 4,
            "has_gpu": False,
            "gpu_used_gb": 0.0,
            "gpu_total_gb": 0.0,
            "gpu_usage_pct": 0.0,
            "honesty_score": 0.42,
            "is_equivocator": False,
            "dispatch_allowed": True,
            "online": True,
            "last_seen": "2026-07-09T15:50:00Z",
        }
        for i in range(n)
    ]
    return {"success": True, "online_count": n, "offline_count": 0, "agents": agents}


def models_body(n: int) -> dict[str, Any]:
    data = [
        {
            "id": f"12D3KooW{i:044d}",
            "object": "model",
            "created": 1_700_000_000,
            "owned_by": "alice",
            "agentfm_name": f"Agent {i}",
            "agentfm_engine": "llama3.2",
            "agentfm_status": "AVAILABLE",
            "agentfm_current_tasks": 0,
            "agentfm_max_tasks": 4,
        }
        for i in range(n)
    ]
    return {"object": "list", "data": data}


def best_ms(fn: Callable[[], object], number: int, runs: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=runs)) / number * 1e3


def race(
    ours: Callable[[], object], peer: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Alternate the two so a neighbour's burst does not land on one side only."""
    o = p = float("inf")
    for _ in range(rounds):
        o = min(o, best_ms(ours, 10, 3))
        p = min(p, best_ms(peer, 10, 3))
    return o, p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 2 if args.quick else 6
    workers = workers_body(1000)
    listing = models_body(200)
    # Same answer from both before timing anything.
    assert [w.peer_id for w in parse_workers(workers)] == [
        w.peer_id for w in sdk_models.WorkersResponse.model_validate(workers).agents
    ]
    w_ours, w_sdk = race(
        lambda: parse_workers(workers),
        lambda: sdk_models.WorkersResponse.model_validate(workers).agents,
        rounds,
    )
    m_ours, m_sdk = race(
        lambda: our_openai.ModelsList.model_validate(listing),
        lambda: sdk_openai.ModelsList.model_validate(listing),
        rounds,
    )
    print_table(
        "bench_models",
        [
            Row(
                "/api/workers, 1,000 workers",
                w_ours,
                w_sdk,
                "ms",
                higher_is_better=False,
                note="ours keeps 20 fields, the SDK 14",
            ),
            Row("/v1/models, 200 entries", m_ours, m_sdk, "ms", higher_is_better=False),
        ],
        ours="agentfm_nb",
        peer="agentfm-sdk",
    )


if __name__ == "__main__":
    main()
