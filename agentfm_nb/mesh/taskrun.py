"""One task on one worker: its agent, line channel, timeout, output folder and artifact."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from agentfm_nb.mesh.agents import AgentError
from agentfm_nb.mesh.agents.base import LineBatch, batch_text
from agentfm_nb.mesh.artifacts import ArtifactRefused, build_artifact, has_files
from agentfm_nb.mesh.workers import Worker
from agentfm_nb.wire import MARKER_PREFIX, TASK_ID_RE

if TYPE_CHECKING:
    from agentfm_nb.mesh.runtime import Mesh

TaskStatus = Literal["running", "ok", "error"]
_CHANNEL_BATCHES = 32


def is_valid_task_id(task_id: object) -> bool:
    # fullmatch: "$" alone would let a trailing newline through
    return isinstance(task_id, str) and TASK_ID_RE.fullmatch(task_id) is not None


class LineChannel:
    """Line batches from the producer task to one reader, with backpressure."""

    __slots__ = ("_closed", "_items", "_max", "_readable", "_writable")

    def __init__(self, max_batches: int) -> None:
        self._items: deque[list[str]] = deque()
        self._max = max_batches
        self._closed = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()

    async def put(self, batch: list[str]) -> None:
        while len(self._items) >= self._max:
            self._writable.clear()
            await self._writable.wait()
        self._items.append(batch)
        self._readable.set()

    def close(self) -> None:
        self._closed = True
        self._readable.set()

    async def get_all(self) -> list[str] | None:
        """Every queued line as one batch; None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._readable.clear()
            await self._readable.wait()
        items = self._items
        batch = items.popleft()
        if items:
            batches = [batch, *items]
            items.clear()
            merged = list(itertools.chain.from_iterable(batches))
            batch = LineBatch(merged, "\n".join(map(batch_text, batches)))
        self._writable.set()
        return batch


class TaskRun:
    """One task on one worker: ``async with mesh.open_task(...) as run: async for line in ...``.

    After the lines end, ``status`` / ``error`` / ``has_artifact`` / ``duration_s`` are final.
    Leaving the ``async with`` early kills the agent and frees the slot.
    """

    def __init__(self, mesh: Mesh, worker: Worker, prompt: str, task_id: str) -> None:
        self.mesh = mesh
        self.task_id = task_id
        self.peer_id = worker.peer_id
        self.prompt = prompt
        self.status: TaskStatus = "running"
        self.error: str | None = None
        self.exit_code: int | None = None
        self.has_artifact = False
        self.artifact_path: Path | None = None
        self.line_count = 0
        self.duration_s = 0.0
        self.timeout_s = worker.spec.timeout_s or mesh.config.task_timeout_s
        self.worker = worker
        self._t0 = time.monotonic()
        self._channel = LineChannel(_CHANNEL_BATCHES)
        self._producer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop_reason: str | None = None  # why the producer was cancelled
        self._finished = asyncio.Event()
        self._released = False

    def __repr__(self) -> str:
        return (
            f"TaskRun(task_id={self.task_id!r}, peer_id={self.peer_id!r}, "
            f"status={self.status!r}, error={self.error!r})"
        )

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def start(self) -> None:
        """Start the agent (``__aenter__`` does this; idempotent)."""
        if self._producer is not None or self._released:
            return
        self._t0 = time.monotonic()
        self._producer = asyncio.get_running_loop().create_task(
            self._produce(), name=f"agentfm-task-{self.task_id}"
        )
        self._timer = asyncio.get_running_loop().call_later(self.timeout_s, self._on_timeout)

    async def __aenter__(self) -> TaskRun:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def batches(self) -> AsyncIterator[list[str]]:
        """Lines in batches, as soon as the agent flushes them (fewer wake-ups than ``lines``)."""
        self.start()
        while (batch := await self._channel.get_all()) is not None:
            yield batch
        await self._finished.wait()

    async def lines(self) -> AsyncIterator[str]:
        """The agent's stdout, one line at a time (no newline); never a ``[AGENTFM:`` marker."""
        async for batch in self.batches():
            for line in batch:
                yield line

    async def text(self) -> str:
        """Run to the end and return every line joined with newlines."""
        parts: list[str] = []
        async for batch in self.batches():
            parts.extend(batch)
        return "\n".join(parts)

    async def wait(self) -> TaskRun:
        """Run to the end without reading the lines."""
        self.start()
        while await self._channel.get_all() is not None:
            pass
        await self._finished.wait()
        return self

    async def aclose(self) -> None:
        """Stop the agent if it still runs (status ``error``) and free the slot."""
        self._stop("cancelled by the client")
        producer = self._producer
        if producer is None:
            if not self._released:
                self.status = "error"
                self.error = "cancelled by the client"
                self._finish()
            return
        if not producer.done():
            # shielded: when our caller is itself being cancelled the producer still cleans up
            try:
                await asyncio.shield(producer)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                cancelling = getattr(task, "cancelling", None)
                if not producer.done() or (cancelling is not None and cancelling()):
                    raise
            except Exception:
                pass  # the producer records its own failures in status/error

    async def abort(self, reason: str) -> None:
        """Stop the agent (status ``error`` with ``reason``) and wait until the run is released."""
        self._stop(reason)
        if self._producer is not None:
            await asyncio.gather(self._producer, return_exceptions=True)
        elif not self._released:  # reserved but never entered
            self.error = reason
            self._finish()

    def _stop(self, reason: str) -> None:
        producer = self._producer
        if producer is not None and not producer.done() and self._stop_reason is None:
            self._stop_reason = reason
            producer.cancel()

    def _on_timeout(self) -> None:
        self._stop(f"timed out after {self.timeout_s:g}s")

    async def _produce(self) -> None:
        mesh = self.mesh
        out_dir: Path | None = None
        keep_partial = True
        try:
            try:
                if self.worker.agent.uses_output_dir:
                    out_dir = mesh.outputs.new(self.task_id)
                await self._pump(out_dir)
                self.status = "ok"
            except asyncio.CancelledError:
                reason = self._stop_reason or "cancelled"
                self.status = "error"
                self.error = reason
                if reason.startswith("timed out"):
                    _uncancel()
                else:
                    keep_partial = False
                    raise
            except AgentError as exc:
                self.status = "error"
                self.error = exc.message
                self.exit_code = exc.exit_code
            except Exception as exc:  # a bug in an agent kind must not take the gateway down
                self.status = "error"
                self.error = f"internal error: {type(exc).__name__}: {exc}"
            if keep_partial and out_dir is not None:
                await self._build_artifact(out_dir)
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if out_dir is not None:
                await mesh.outputs.discard(out_dir)
            self._finish()

    async def _pump(self, out_dir: Path | None) -> None:
        put = self._channel.put
        gen = self.worker.agent.stream(self.prompt, out_dir)
        try:
            async for batch in gen:
                # one C-level scan first; the exact per-line filter runs only on a hit
                if MARKER_PREFIX in batch_text(batch) and any(
                    line.startswith(MARKER_PREFIX) for line in batch
                ):
                    batch = [line for line in batch if not line.startswith(MARKER_PREFIX)]
                if not batch:
                    continue
                self.line_count += len(batch)
                await put(batch)
        finally:
            await gen.aclose()  # type: ignore[attr-defined]

    async def _build_artifact(self, out_dir: Path) -> None:
        if not has_files(out_dir):  # the common case, answered without a thread hop
            return
        dest = self.mesh.artifacts_dir / f"{self.task_id}.zip"
        try:
            built = await asyncio.to_thread(
                build_artifact, out_dir, dest, max_bytes=self.mesh.config.artifact_max_bytes
            )
        except ArtifactRefused as exc:
            self.status = "error"
            self.error = f"artifact refused: {exc}"
            return
        except OSError as exc:
            self.status = "error"
            self.error = f"artifact failed: {exc}"
            return
        if built:
            self.has_artifact = True
            self.artifact_path = dest

    def _finish(self) -> None:
        if self._released:
            return
        self._released = True
        self.duration_s = round(time.monotonic() - self._t0, 6)
        if self.status == "running":
            self.status = "error"
            self.error = self.error or "cancelled"
        self.mesh.task_done(self)
        self._channel.close()
        self._finished.set()


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):
        task.uncancel()


__all__ = [
    "LineChannel",
    "TaskRun",
    "TaskStatus",
    "is_valid_task_id",
]
