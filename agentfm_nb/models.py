"""The SDK's ``agentfm.models`` module: the client's typed records in one import.

``ScatterResult`` is imported on first use (it lives with the scatter engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfm_nb.client.models import (
    AsyncTaskAck,
    PeerID,
    TaskChunk,
    TaskResult,
    WorkerProfile,
    WorkersResponse,
)

if TYPE_CHECKING:
    from agentfm_nb.scatter import ScatterResult


def __getattr__(name: str) -> Any:
    if name == "ScatterResult":
        from agentfm_nb.scatter import ScatterResult

        return ScatterResult
    raise AttributeError(f"module 'agentfm_nb.models' has no attribute {name!r}")


__all__ = [
    "AsyncTaskAck",
    "PeerID",
    "ScatterResult",
    "TaskChunk",
    "TaskResult",
    "WorkerProfile",
    "WorkersResponse",
]
