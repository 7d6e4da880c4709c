"""One worker's live state, and the frozen ``/api/workers`` snapshot built from it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from agentfm_nb.mesh.agents import Agent
from agentfm_nb.mesh.config import WorkerSpec
from agentfm_nb.mesh.peerid import Identity
from agentfm_nb.mesh.telemetry import HostSample


def iso_utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@dataclass(frozen=True, slots=True)
class WorkerSnapshot:
    """One worker as ``/api/workers`` shows it, frozen at one moment."""

    peer_id: str
    name: str
    author: str
    engine: str
    description: str
    hardware: str
    status: str
    kind: str
    cpu_usage_pct: float
    ram_free_gb: float
    current_tasks: int
    max_tasks: int
    has_gpu: bool
    gpu_used_gb: float
    gpu_total_gb: float
    gpu_usage_pct: float
    honesty_score: float
    is_equivocator: bool
    dispatch_allowed: bool
    online: bool
    last_seen: str
    wire: dict[str, Any] = field(repr=False, compare=False)

    def to_wire(self) -> dict[str, Any]:
        """The ``/api/workers`` agent object (a fresh copy)."""
        return dict(self.wire)


class Worker:
    """A worker's mutable state; its snapshot is cached until the mesh drops it (``snap``)."""

    __slots__ = (
        "agent",
        "current",
        "identity",
        "last_seen",
        "name",
        "online",
        "peer_id",
        "snap",
        "spec",
    )

    def __init__(self, spec: WorkerSpec, name: str, identity: Identity, agent: Agent) -> None:
        self.spec = spec
        self.name = name
        self.identity = identity
        self.peer_id = identity.peer_id
        self.agent = agent
        self.current = 0
        self.online = spec.online
        self.last_seen = time.time()
        self.snap: WorkerSnapshot | None = None

    @property
    def has_capacity(self) -> bool:
        return self.current < self.spec.max_tasks

    def hardware(self, host: HostSample) -> str:
        label = self.spec.hardware
        engine = self.spec.engine
        if label:
            return label if label.startswith(f"{engine} (") else f"{engine} ({label})"
        if host.has_gpu:
            return f"{engine} (GPU VRAM: {host.gpu_used_gb:.1f}/{host.gpu_total_gb:.1f} GB)"
        return f"{engine} (CPU: {host.cpu_cores} Cores)"

    def snapshot(self, host: HostSample, now_iso: str) -> WorkerSnapshot:
        snap = self.snap
        if snap is not None:
            return snap
        spec = self.spec
        wire: dict[str, Any] = {
            "peer_id": self.peer_id,
            "author": spec.author,
            "name": self.name,
            "status": "AVAILABLE" if self.has_capacity else "BUSY",
            "hardware": self.hardware(host),
            "description": spec.description,
            "cpu_usage_pct": host.cpu_usage_pct,
            "ram_free_gb": host.ram_free_gb,
            "current_tasks": self.current,
            "max_tasks": spec.max_tasks,
            "has_gpu": host.has_gpu,
            "gpu_used_gb": host.gpu_used_gb,
            "gpu_total_gb": host.gpu_total_gb,
            "gpu_usage_pct": host.gpu_usage_pct,
            "honesty_score": spec.honesty_score,
            "is_equivocator": False,
            "dispatch_allowed": True,
            "online": self.online,
            "last_seen": now_iso if self.online else iso_utc(self.last_seen),
        }
        # the snapshot's fields are the wire dict's, plus engine and kind
        snap = self.snap = WorkerSnapshot(engine=spec.engine, kind=spec.kind, wire=wire, **wire)
        return snap


__all__ = ["Worker", "WorkerSnapshot", "iso_utc"]
