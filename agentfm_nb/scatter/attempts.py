"""One prompt's attempts: its state across retries, the timed call, the retry decision, its row."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agentfm_nb.errors import AgentFMError
from agentfm_nb.scatter.results import ScatterResult, describe_error

# Named for the engine: these lines predate the split and log filters may rely on the name.
_log = logging.getLogger("agentfm_nb.scatter.engine")

RunOne = Callable[[str, str], Awaitable[Any]]


class Item:
    """One prompt of the batch and what its attempts so far have left behind."""

    __slots__ = (
        "attempts",
        "bounces",
        "excluded",
        "index",
        "last_peer",
        "output",
        "prompt",
        "started",
    )

    def __init__(self, index: int, prompt: str) -> None:
        self.index = index
        self.prompt = prompt
        self.attempts = 0
        self.excluded: set[str] = set()  # peers that failed this prompt
        self.last_peer: str | None = None
        self.started: float | None = None
        self.bounces = 0  # capacity refusals: the task never ran, not counted as attempts
        self.output = ""  # what the agent printed on its last failed attempt

    def begin(self, peer_id: str) -> None:
        self.attempts += 1
        self.last_peer = peer_id
        if self.started is None:
            self.started = time.monotonic()

    def may_retry(self, failed_on: str, max_retries: int) -> bool:
        """Record a failed attempt on ``failed_on``; True when another attempt is allowed."""
        self.excluded.add(failed_on)
        return self.attempts <= max_retries

    def latency(self) -> float:
        return time.monotonic() - self.started if self.started is not None else 0.0

    # Rows: ``index`` is the row's position in the caller's batch (differs on retry_failed).

    def success_row(self, index: int, peer_id: str, out: Any) -> ScatterResult:
        worker = getattr(out, "worker_id", None) or peer_id
        artifacts = getattr(out, "artifacts", None) or []
        return ScatterResult(
            prompt=self.prompt,
            worker_id=str(worker),
            status="success",
            text=str(getattr(out, "text", "") or ""),
            artifacts=[Path(a) for a in artifacts],
            index=index,
            attempts=self.attempts,
            latency_s=self.latency(),
        )

    def failed_row(self, index: int, message: str, kind: str) -> ScatterResult:
        return ScatterResult(
            prompt=self.prompt,
            worker_id=self.last_peer,
            status="failed",
            text=self.output,
            error=message,
            index=index,
            attempts=self.attempts,
            latency_s=self.latency(),
            error_type=kind,
        )

    def cancelled_row(self, index: int) -> ScatterResult:
        return ScatterResult(
            prompt=self.prompt,
            worker_id=self.last_peer,
            status="cancelled",
            error="cancelled before it finished",
            index=index,
            attempts=self.attempts,
            latency_s=self.latency(),
            error_type="CancelledError",
        )


async def call(run_one: RunOne, peer_id: str, prompt: str, timeout: float | None) -> Any:
    """One attempt, bounded by ``timeout`` when given."""
    pending = run_one(peer_id, prompt)
    if timeout is None:
        return await pending
    return await asyncio.wait_for(pending, timeout)


def is_capacity_refusal(exc: BaseException) -> bool:
    """The worker refused for capacity (in-band line or a 503): the task never ran."""
    code = getattr(exc, "code", None)
    return code in ("worker_at_capacity", "mesh_overloaded") or getattr(exc, "status", None) == 503


def describe_failure(exc: Exception, timeout: float | None, index: int) -> tuple[str, str]:
    """The (message, kind) of a failed attempt; unexpected (non-AgentFM) errors are logged."""
    if isinstance(exc, asyncio.TimeoutError):
        return f"timed out after {timeout:g}s", "TimeoutError"
    message, kind = describe_error(exc)
    if not isinstance(exc, AgentFMError):
        _log.warning("scatter prompt #%d: %s: %s", index, kind, message)
    return message, kind
