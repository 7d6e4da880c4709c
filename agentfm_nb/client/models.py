"""Typed records of the gateway's answers.

Plain ``slots`` dataclasses rather than pydantic: listing 1,000 workers or streaming 100,000
lines must stay cheap, and the wire is simple enough to read by hand. Every ``from_wire``
ignores fields it does not know, because newer gateways add fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, NewType

from agentfm_nb.errors import GatewayProtocolError

PeerID = NewType("PeerID", str)
"""A libp2p peer id (``12D3KooW...``): the only verifiable handle of a worker."""


def _known(cls: type[Any]) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


def _require_dict(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise GatewayProtocolError(f"expected a JSON object for {what}, got {type(body).__name__}")
    return body


def engine_from_hardware(hardware: str) -> str:
    """The model engine is the part of ``hardware`` before the first ``" ("``."""
    idx = hardware.find(" (")
    return hardware[:idx] if idx > 0 else hardware


@dataclass(slots=True)
class WorkerProfile:
    """One worker as advertised by ``GET /api/workers``."""

    peer_id: PeerID
    author: str = "Anonymous"
    name: str = ""
    status: str = "UNKNOWN"
    hardware: str = ""
    description: str = ""
    cpu_usage_pct: float = 0.0
    ram_free_gb: float = 0.0
    current_tasks: int = 0
    max_tasks: int = 0
    has_gpu: bool = False
    gpu_used_gb: float = 0.0
    gpu_total_gb: float = 0.0
    gpu_usage_pct: float = 0.0
    honesty_score: float = 0.0
    is_equivocator: bool = False
    dispatch_allowed: bool = True
    dispatch_refuse_reason: str | None = None
    online: bool = True
    last_seen: str | None = None

    @classmethod
    def from_wire(cls, body: Any) -> WorkerProfile:
        data = _require_dict(body, "a worker")
        peer_id = data.get("peer_id")
        if not isinstance(peer_id, str) or not peer_id:
            raise GatewayProtocolError("worker entry without a peer_id")
        known = _WORKER_FIELDS
        kwargs = {k: v for k, v in data.items() if k in known and v is not None}
        return cls(**kwargs)

    @property
    def model(self) -> str:
        """The engine parsed from ``hardware`` (e.g. ``llama3.2``)."""
        return engine_from_hardware(self.hardware) if self.hardware else ""

    @property
    def engine(self) -> str:
        return self.model

    @property
    def agent_name(self) -> str:
        return self.name

    @property
    def is_available(self) -> bool:
        return self.status.upper() == "AVAILABLE"

    @property
    def load_ratio(self) -> float:
        return self.current_tasks / self.max_tasks if self.max_tasks > 0 else 0.0


_WORKER_FIELDS = _known(WorkerProfile)


def parse_workers(body: Any) -> list[WorkerProfile]:
    """Decode the ``/api/workers`` envelope."""
    data = _require_dict(body, "/api/workers")
    agents = data.get("agents")
    if agents is None:
        return []
    if not isinstance(agents, list):
        raise GatewayProtocolError("/api/workers: 'agents' is not a list")
    return [WorkerProfile.from_wire(a) for a in agents]


@dataclass(slots=True, frozen=True)
class TaskChunk:
    """A piece of streamed stdout (``kind="text"``) or a protocol sentinel (``"marker"``)."""

    text: str
    kind: Literal["text", "marker"] = "text"


@dataclass(slots=True)
class TaskResult:
    """The outcome of ``tasks.run``."""

    worker_id: PeerID
    text: str
    artifacts: list[Path] = field(default_factory=list)
    duration_seconds: float = 0.0
    task_id: str = ""


@dataclass(slots=True)
class AsyncTaskAck:
    """The 202 answer of ``POST /api/execute/async``."""

    task_id: str
    status: str = "queued"
    message: str = ""

    @classmethod
    def from_wire(cls, body: Any) -> AsyncTaskAck:
        data = _require_dict(body, "/api/execute/async")
        task_id = data.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise GatewayProtocolError("async ack without a task_id")
        return cls(
            task_id=task_id,
            status=str(data.get("status") or "queued"),
            message=str(data.get("message") or ""),
        )


@dataclass(slots=True)
class RaterSummary:
    verified_raters_count: int = 0
    unverified_raters_count: int = 0


@dataclass(slots=True)
class PeerInfo:
    """``GET /v1/peers/{id}``."""

    peer_id: PeerID
    agent_name: str = ""
    online: bool = False
    last_seen: str | None = None
    honesty_score: float = 0.0
    is_equivocator: bool = False
    dispatch_allowed: bool = True
    entries_count: int = 0
    last_entry_at: str | None = None
    rater_summary: RaterSummary = field(default_factory=RaterSummary)

    @classmethod
    def from_wire(cls, body: Any) -> PeerInfo:
        data = _require_dict(body, "a peer")
        if not isinstance(data.get("peer_id"), str):
            raise GatewayProtocolError("peer answer without a peer_id")
        kwargs = {k: v for k, v in data.items() if k in _PEER_FIELDS and v is not None}
        summary = kwargs.pop("rater_summary", None)
        info = cls(**kwargs)
        if isinstance(summary, dict):
            info.rater_summary = RaterSummary(
                **{k: v for k, v in summary.items() if k in _RATER_FIELDS}
            )
        return info


@dataclass(slots=True)
class PeerReputation:
    """``GET /v1/peers/{id}/reputation``."""

    peer_id: PeerID
    scores: dict[str, float] = field(default_factory=dict)
    rating_count: int = 0
    last_updated: str | None = None
    is_equivocator: bool = False
    agent_image_ref: str | None = None
    agent_image_digest: str | None = None
    agent_capability: str | None = None

    @property
    def honesty(self) -> float:
        return float(self.scores.get("honesty", 0.0))

    @classmethod
    def from_wire(cls, body: Any) -> PeerReputation:
        data = _require_dict(body, "a reputation")
        if not isinstance(data.get("peer_id"), str):
            raise GatewayProtocolError("reputation answer without a peer_id")
        kwargs = {k: v for k, v in data.items() if k in _REP_FIELDS and v is not None}
        if not isinstance(kwargs.get("scores", {}), dict):
            kwargs.pop("scores")
        return cls(**kwargs)


_PEER_FIELDS = _known(PeerInfo)
_RATER_FIELDS = _known(RaterSummary)
_REP_FIELDS = _known(PeerReputation)

__all__ = [
    "AsyncTaskAck",
    "PeerID",
    "PeerInfo",
    "PeerReputation",
    "RaterSummary",
    "TaskChunk",
    "TaskResult",
    "WorkerProfile",
    "engine_from_hardware",
    "parse_workers",
]
