"""The scatter engine: many prompts over many peers, with failover, progress and DataFrames.

Transport-free; the sync and async clients hand it a ``run_one(peer_id, prompt)`` coroutine.
"""

from __future__ import annotations

from agentfm_nb.scatter.engine import (
    PeerLike,
    ScatterCancelled,
    ScatterRun,
    scatter,
    scatter_iter,
)
from agentfm_nb.scatter.results import ScatterEvent, ScatterResult, ScatterResults

__all__ = [
    "PeerLike",
    "ScatterCancelled",
    "ScatterEvent",
    "ScatterResult",
    "ScatterResults",
    "ScatterRun",
    "scatter",
    "scatter_iter",
]
