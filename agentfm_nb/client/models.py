"""Typed records of the gateway's answers.

``WorkerProfile`` and ``WorkersResponse`` are pydantic v2 models with the official SDK's fields,
defaults and bounds (``model_validate``, ``ValidationError``), plus the gateway's ledger fields.
A whole ``/api/workers`` answer is validated in one pydantic-core call, which is faster than a
Python loop over dicts. Records produced on the streaming hot path (``TaskChunk``,
``TaskResult``) stay plain ``slots`` dataclasses: one is built per line of output. Unknown
fields are ignored everywhere, because newer gateways add fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, NewType

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


class WorkerProfile(BaseModel):
    """One worker as advertised by ``GET /api/workers``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    peer_id: PeerID
    author: str = "Anonymous"
    name: str = ""
    status: str = "UNKNOWN"
    hardware: str = ""
    description: str = ""
    cpu_usage_pct: float = Field(default=0.0, ge=0.0)
    ram_free_gb: float = Field(default=0.0, ge=0.0)
    current_tasks: int = Field(default=0, ge=0)
    max_tasks: int = Field(default=0, ge=0)
    has_gpu: bool = False
    gpu_used_gb: float = Field(default=0.0, ge=0.0)
    gpu_total_gb: float = Field(default=0.0, ge=0.0)
    gpu_usage_pct: float = Field(default=0.0, ge=0.0)
    # Beyond the SDK: the gateway's reputation ledger and offline memory.
    honesty_score: float = 0.0
    is_equivocator: bool = False
    dispatch_allowed: bool = True
    dispatch_refuse_reason: str | None = None
    online: bool = True
    last_seen: str | None = None

    @classmethod
    def from_wire(cls, body: Any) -> WorkerProfile:
        """``model_validate`` with a wire-level failure as ``GatewayProtocolError``."""
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            raise GatewayProtocolError(f"malformed worker: {_first_error(exc)}") from None

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


class WorkersResponse(BaseModel):
    """The ``GET /api/workers`` envelope."""

    success: bool = True
    agents: list[WorkerProfile] = Field(default_factory=list)
    # Beyond the SDK: counts the gateway sends beside the list.
    online_count: int | None = None
    offline_count: int | None = None

    @field_validator("agents", mode="before")
    @classmethod
    def _null_is_empty(cls, v: Any) -> Any:
        # A Go gateway serialises an empty (nil) slice as null.
        return [] if v is None else v


def parse_workers(body: Any) -> list[WorkerProfile]:
    """Decode the ``/api/workers`` envelope (one validation call for the whole list)."""
    data = _require_dict(body, "/api/workers")
    try:
        return WorkersResponse.model_validate(data).agents
    except ValidationError as exc:
        raise GatewayProtocolError(f"/api/workers: {_first_error(exc)}") from None


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


class AsyncTaskAck(BaseModel):
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
    "WorkersResponse",
    "engine_from_hardware",
    "parse_workers",
]
