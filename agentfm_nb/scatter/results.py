"""Scatter rows, progress events and the result set that can retry its own failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, SupportsIndex, overload

if TYPE_CHECKING:
    import pandas as pd

Status = Literal["success", "failed", "cancelled"]
EventState = Literal["queued", "running", "retrying", "done", "failed", "cancelled"]

# Re-runs some prompts with the settings of the scatter that produced the result set; the
# second argument is their positions in the original batch (for events and row indices).
RetryFn = Callable[[list[str], list[int]], Awaitable["ScatterResults"]]
# Drives a coroutine to completion from synchronous code (the client's portal thread).
SyncRunner = Callable[[Coroutine[Any, Any, "ScatterResults"]], "ScatterResults"]


@dataclass
class ScatterResult:
    """One prompt of a scatter: the SDK's fields plus index, attempts, latency and error type."""

    prompt: str
    worker_id: str | None = None
    status: Status = "success"
    text: str = ""
    artifacts: list[Path] = field(default_factory=list)
    error: str | None = None
    index: int = 0
    attempts: int = 0
    latency_s: float = 0.0
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True)
class ScatterEvent:
    """A state change of one prompt, for progress displays."""

    index: int
    state: EventState
    peer_id: str | None = None
    attempt: int = 0
    error: str | None = None
    at: float = field(default_factory=time.monotonic)


class ScatterResults(list[ScatterResult]):
    """Scatter rows in input order; converts to a DataFrame and can re-run its failures."""

    def __init__(
        self,
        rows: Iterable[ScatterResult] = (),
        *,
        retry: RetryFn | None = None,
        sync_runner: SyncRunner | None = None,
    ) -> None:
        super().__init__(rows)
        self._retry = retry
        self._sync_runner = sync_runner

    @overload
    def __getitem__(self, i: SupportsIndex) -> ScatterResult: ...
    @overload
    def __getitem__(self, i: slice) -> ScatterResults: ...
    def __getitem__(self, i: SupportsIndex | slice) -> ScatterResult | ScatterResults:
        if isinstance(i, slice):
            return ScatterResults(super().__getitem__(i))
        return super().__getitem__(i)

    def __repr__(self) -> str:
        counts = self.counts()
        summary = ", ".join(f"{k}={v}" for k, v in counts.items() if v)
        return f"ScatterResults({len(self)} rows: {summary or 'empty'})"

    def counts(self) -> dict[str, int]:
        out = {"success": 0, "failed": 0, "cancelled": 0}
        for r in self:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    @property
    def succeeded(self) -> list[ScatterResult]:
        return [r for r in self if r.status == "success"]

    @property
    def failed(self) -> list[ScatterResult]:
        """Rows that did not succeed (failed or cancelled)."""
        return [r for r in self if r.status != "success"]

    @property
    def texts(self) -> list[str | None]:
        return [r.text if r.status == "success" else None for r in self]

    def to_dataframe(self) -> pd.DataFrame:
        from agentfm_nb.scatter.frames import results_to_dataframe

        return results_to_dataframe(self)

    async def aretry_failed(self) -> ScatterResults:
        """Re-run only the failed and cancelled rows; successes are kept as they are."""
        if self._retry is None:
            raise RuntimeError("this result set has no retry function (it was built by hand)")
        positions = [i for i, r in enumerate(self) if r.status != "success"]
        if not positions:
            return ScatterResults(self, retry=self._retry, sync_runner=self._sync_runner)
        redo = await self._retry([self[i].prompt for i in positions], positions)
        return merge_retry(self, positions, redo, retry=self._retry, runner=self._sync_runner)

    def retry_failed(self) -> ScatterResults:
        """Synchronous :meth:`aretry_failed`; runs on the client's portal loop."""
        coro = self.aretry_failed()
        if self._sync_runner is not None:
            return self._sync_runner(coro)
        try:
            from agentfm_nb.client._portal import portal
        except ImportError:  # client not importable: no shared loop to reuse
            return asyncio.run(coro)
        return portal().run(coro)


def merge_retry(
    old: Sequence[ScatterResult],
    positions: Sequence[int],
    redo: Sequence[ScatterResult],
    *,
    retry: RetryFn | None,
    runner: SyncRunner | None,
) -> ScatterResults:
    """Put re-run rows back at their original positions, adding up attempts."""
    merged = list(old)
    for pos, new in zip(positions, redo, strict=True):
        prev = old[pos]
        new.index = prev.index
        new.attempts += prev.attempts
        merged[pos] = new
    return ScatterResults(merged, retry=retry, sync_runner=runner)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """The (message, class name) pair kept on a failed row."""
    message: Any = getattr(exc, "message", None)
    if not isinstance(message, str) or not message:
        message = str(exc) or type(exc).__name__
    return message, type(exc).__name__
