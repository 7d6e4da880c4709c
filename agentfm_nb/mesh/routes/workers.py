"""``/api/workers`` bodies and agent lists, straight from the runtime's per-version caches."""

from __future__ import annotations

from typing import Any

from agentfm_nb.mesh.routes.common import GatewayState


def wire_agents(state: GatewayState, *, include_offline: bool) -> list[dict[str, Any]]:
    """Shared, read-only agent dicts (the runtime rebuilds them only when something changed)."""
    return state.mesh.wire_agents(include_offline)


def workers_body(state: GatewayState, include_offline: bool) -> bytes:
    return state.mesh.workers_json(include_offline)
