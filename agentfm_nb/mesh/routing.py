"""OpenAI ``model`` routing: peer id, then agent name, then engine; least-loaded with room."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agentfm_nb.mesh.refusals import RouteError
from agentfm_nb.mesh.workers import Worker


def candidates(
    model: str,
    by_peer: Mapping[str, Worker],
    by_name: Mapping[str, Sequence[Worker]],
    by_engine: Mapping[str, Sequence[Worker]],
) -> list[Worker]:
    """The online workers of the first tier that knows ``model`` (may be empty)."""
    model = model.strip()  # every tier, the peer id one included, matches the trimmed name
    worker = by_peer.get(model)
    if worker is not None and worker.online:
        return [worker]
    key = model.lower()
    tier = [w for w in by_name.get(key, ()) if w.online]
    return tier or [w for w in by_engine.get(key, ()) if w.online]


def least_loaded(tier: Sequence[Worker]) -> Worker | None:
    """The worker with the lowest load that still has a free slot."""
    best: Worker | None = None
    best_load = 2.0
    for w in tier:
        if not w.has_capacity:
            continue
        load = w.current / w.spec.max_tasks
        if load < best_load:
            best, best_load = w, load
            if load == 0.0:
                break  # nothing beats an idle worker (CPU is host-wide, so no tie-break)
    return best


def pick_worker(
    model: str,
    by_peer: Mapping[str, Worker],
    by_name: Mapping[str, Sequence[Worker]],
    by_engine: Mapping[str, Sequence[Worker]],
) -> Worker:
    tier = candidates(model, by_peer, by_name, by_engine)
    if not tier:
        raise RouteError("model_not_found", f"no worker serves model {model!r}")
    best = least_loaded(tier)
    if best is None:
        raise RouteError("mesh_overloaded", f"every worker for {model!r} is at capacity")
    return best


__all__ = ["candidates", "least_loaded", "pick_worker"]
