"""One task on one worker: its agent, byte channel, timeout, output folder and artifact.

The run produces the ``/api/execute`` body exactly as the real worker writes it: the agent's
stdout and stderr bytes as they come (partial lines too), on failure the agent's error text and
``⚠️  Sandbox exited: exit status N``, then a newline and the sentinel line. ``chunks()`` is that
body; ``lines()`` / ``batches()`` / ``text()`` cut the same bytes, closing newline and sentinel
excluded, into lines for in-process callers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from agentfm_nb.mesh.agents import AgentError
from agentfm_nb.mesh.agents.base import LineSplitter, StartFailed
from agentfm_nb.mesh.artifacts import ArtifactRefused, build_artifact, has_files
from agentfm_nb.mesh.workers import Worker
from agentfm_nb.wire import ERROR_PREFIX, FILES_INCOMING, NO_FILES, TASK_ID_RE

if TYPE_CHECKING:
    from agentfm_nb.mesh.runtime import Mesh

TaskStatus = Literal["running", "ok", "error"]
# the real worker's failure line (sandbox.go), before the sentinel
SANDBOX_EXITED = "\u26a0\ufe0f  Sandbox exited: "
# what a task killed at its timeout (or at shutdown) reports, as Go words a SIGKILL
KILLED = "signal: killed"
# what a stream cut by the gateway's shutdown ends with: the real worker's shutdown kills the
# sandbox, so its client reads the kill, then the sentinel
SHUTDOWN_TAIL = f"{SANDBOX_EXITED}{KILLED}\n\n{NO_FILES}\n".encode()
_CHANNEL_BYTES = 1 << 20  # an agent may run this far ahead of a slow reader
_NO_FILES_TAIL = f"\n{NO_FILES}\n".encode()
_FILES_TAIL = f"\n{FILES_INCOMING}\n".encode()


def is_valid_task_id(task_id: object) -> bool:
    # fullmatch: "$" alone would let a trailing newline through
    return isinstance(task_id, str) and TASK_ID_RE.fullmatch(task_id) is not None


class FinalChunk(bytes):
    """The last bytes of a body: they can leave with the end of the response in one write."""


class ByteChannel:
    """Output bytes from the producer task to one reader, with backpressure on queued bytes.

    Waiters are futures made only when someone has to wait (most tiny tasks never do).
    """

    __slots__ = ("_closed", "_items", "_max", "_reader", "_size", "_writer")

    def __init__(self, max_bytes: int) -> None:
        self._items: deque[bytes] = deque()
        self._size = 0
        self._max = max_bytes
        self._closed = False
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None

    async def put(self, data: bytes) -> None:
        while self._size >= self._max:
            waiter = self._writer = asyncio.get_running_loop().create_future()
            await waiter
        self.put_nowait(data)

    def put_nowait(self, data: bytes) -> None:
        """Queue past the limit (the few closing bytes of a run must never wait on a reader)."""
        self._items.append(data)
        self._size += len(data)
        _wake(self._reader)

    def close(self) -> None:
        self._closed = True
        _wake(self._reader)

    @property
    def finished(self) -> bool:
        """Closed, and nothing left to read."""
        return self._closed and not self._items

    async def get_all(self) -> bytes | None:
        """Every queued byte at once; None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            waiter = self._reader = asyncio.get_running_loop().create_future()
            await waiter
        return self.take()

    def take(self) -> bytes | None:
        """Every queued byte at once, without waiting; None when nothing is queued."""
        items = self._items
        if not items:
            return None
        data = items.popleft() if len(items) == 1 else b"".join(items)
        items.clear()
        self._size = 0
        _wake(self._writer)
        return data

    async def readable(self) -> None:
        """Wait until there is something to take, or the channel is closed."""
        while not self._items and not self._closed:
            waiter = self._reader = asyncio.get_running_loop().create_future()
            await waiter


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class TaskRun:
    """One task on one worker: ``async with mesh.open_task(...) as run: async for chunk in ...``.

    After the output ends, ``status`` / ``error`` / ``has_artifact`` / ``duration_s`` are final.
    Leaving the ``async with`` early kills the agent. The worker's slot is freed when the agent
    has really stopped (a blocking python agent may outlive its stream: see ``hold``).
    """

    __slots__ = (
        "_channel",
        "_finished",
        "_holds",
        "_producer",
        "_release",
        "_released",
        "_stop_reason",
        "_t0",
        "_timer",
        "artifact_path",
        "bytes_out",
        "duration_s",
        "error",
        "exit_code",
        "has_artifact",
        "mesh",
        "peer_id",
        "prompt",
        "status",
        "task_id",
        "timed_out",
        "timeout_s",
        "worker",
    )

    def __init__(self, mesh: Mesh, worker: Worker, prompt: str, task_id: str) -> None:
        self.mesh = mesh
        self.task_id = task_id
        self.peer_id = worker.peer_id
        self.prompt = prompt
        self.status: TaskStatus = "running"
        self.error: str | None = None
        self.exit_code: int | None = None
        self.timed_out = False
        self.has_artifact = False
        self.artifact_path: Path | None = None
        self.bytes_out = 0
        self.duration_s = 0.0
        self.timeout_s = worker.spec.timeout_s or mesh.config.task_timeout_s
        self.worker = worker
        self._t0 = time.monotonic()
        self._channel = ByteChannel(_CHANNEL_BYTES)
        self._producer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop_reason: str | None = None  # why the producer was cancelled
        self._finished = asyncio.Event()
        self._released = False
        self._holds: list[Awaitable[Any]] = []
        self._release: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"TaskRun(task_id={self.task_id!r}, peer_id={self.peer_id!r}, "
            f"status={self.status!r}, error={self.error!r})"
        )

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def sentinel_tail(self) -> bytes:
        """The newline and sentinel line the body ends with (final once ``done``)."""
        return _FILES_TAIL if self.has_artifact else _NO_FILES_TAIL

    def start(self) -> None:
        """Start the agent (``__aenter__`` does this; idempotent)."""
        if self._producer is not None or self._released:
            return
        self._t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        self._producer = loop.create_task(self._produce(), name=f"agentfm-task-{self.task_id}")
        self._timer = loop.call_later(self.timeout_s, self._on_timeout)

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

    # -- reading -------------------------------------------------------------------------

    async def chunks(self) -> AsyncIterator[bytes]:
        """The ``/api/execute`` body: output bytes as the agent writes them, then the sentinel.

        The last chunk is a :class:`FinalChunk` carrying the sentinel (and whatever output was
        still queued with it).
        """
        self.start()
        readable = self._channel.readable
        while True:
            data = self.take()
            if data is None:
                await readable()
                continue
            yield data
            if type(data) is FinalChunk:
                return

    def take(self) -> bytes | None:
        """The body bytes ready now, without waiting (what :meth:`chunks` yields next): a
        :class:`FinalChunk` once the output has ended, None while nothing is ready (await
        :meth:`readable`, then take again). Stop at the final chunk: it is the end of the body.
        """
        channel = self._channel
        data = channel.take()
        if channel.finished:
            # the channel closes only in ``_finish``, which also makes every field final
            tail = self.sentinel_tail
            return FinalChunk(data + tail if data else tail)
        return data

    async def readable(self) -> None:
        """Wait until :meth:`take` has something (output, or the end of it)."""
        await self._channel.readable()

    async def batches(self) -> AsyncIterator[list[str]]:
        """The output's lines in batches (no newlines): everything before the closing newline and
        sentinel, i.e. the agent's stdout and stderr plus any in-band failure line, decoded and
        ``\\r``-trimmed. Whatever is ready goes at once; a partial line waits for its end.
        """
        self.start()
        splitter = LineSplitter()
        while (data := await self._channel.get_all()) is not None:
            lines = splitter.feed(data)
            if lines:
                yield lines
        await self._finished.wait()
        rest = splitter.flush()
        if rest:
            yield rest

    async def lines(self) -> AsyncIterator[str]:
        """One line at a time: see :meth:`batches`."""
        async for batch in self.batches():
            for line in batch:
                yield line

    async def text(self) -> str:
        """Run to the end and return the output's lines joined with newlines."""
        parts: list[str] = []
        async for batch in self.batches():
            parts.extend(batch)
        return "\n".join(parts)

    async def wait(self) -> TaskRun:
        """Run to the end without reading the output."""
        self.start()
        while await self._channel.get_all() is not None:
            pass
        await self._finished.wait()
        return self

    # -- stopping ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the agent if it still runs (status ``error``); the slot follows once it stops."""
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
        """Stop the agent (status ``error`` with ``reason``) and wait until its output has ended.

        The stream still gets its closing lines, as the real worker's do when it shuts down.
        """
        self._stop(reason)
        if self._producer is not None:
            await asyncio.gather(self._producer, return_exceptions=True)
        elif not self._released:  # reserved but never entered
            self.error = reason
            self._finish()

    def hold(self, work: Awaitable[Any]) -> None:
        """Keep the worker's slot taken until ``work`` (agent code outliving the stream) ends."""
        self._holds.append(work)

    def _stop(self, reason: str) -> None:
        producer = self._producer
        if producer is not None and not producer.done() and self._stop_reason is None:
            self._stop_reason = reason
            producer.cancel()

    def _on_timeout(self) -> None:
        self.timed_out = True
        self._stop(f"timed out after {self.timeout_s:g}s")

    # -- producing -----------------------------------------------------------------------

    async def _produce(self) -> None:
        mesh = self.mesh
        out_dir: Path | None = None
        keep_partial = True
        failure = ""  # in-band text written after the output, before the sentinel
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
                if reason == "cancelled by the client" or self._stop_reason is None:
                    keep_partial = False  # nobody is reading: no closing lines, no artifact
                    raise
                _uncancel()
                failure = f"{SANDBOX_EXITED}{KILLED}\n"
            except StartFailed as exc:
                self.status = "error"
                self.error = exc.message
                failure = f"{exc.detail or exc.message}\n"
            except AgentError as exc:
                self.status = "error"
                self.error = exc.message
                self.exit_code = exc.exit_code
                failure = f"{exc.detail}\n" if exc.detail else ""
                failure += f"{SANDBOX_EXITED}{exc.exit}\n"
            except Exception as exc:  # a bug in an agent kind must not take the gateway down
                self.status = "error"
                self.error = f"internal error: {type(exc).__name__}: {exc}"
                failure = f"{ERROR_PREFIX}{self.error}\n"
            if keep_partial and out_dir is not None:
                failure += await self._build_artifact(out_dir)
            if failure:
                self._channel.put_nowait(failure.encode("utf-8", "replace"))
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if out_dir is not None:
                await mesh.outputs.discard(out_dir)
            self._finish()

    async def _pump(self, out_dir: Path | None) -> None:
        put = self._channel.put
        gen = self.worker.agent.stream(self.prompt, out_dir, self.hold)
        size = 0
        try:
            async for data in gen:
                size += len(data)
                await put(data)
        finally:
            self.bytes_out = size
            await gen.aclose()  # type: ignore[attr-defined]

    async def _build_artifact(self, out_dir: Path) -> str:
        """Zip the output folder; an in-band error line when it is refused."""
        if not has_files(out_dir):  # the common case, answered without a thread hop
            return ""
        dest = self.mesh.artifacts_dir / f"{self.task_id}.zip"
        try:
            built = await asyncio.to_thread(
                build_artifact, out_dir, dest, max_bytes=self.mesh.config.artifact_max_bytes
            )
        except ArtifactRefused as exc:
            self.status = "error"
            self.error = f"artifact refused: {exc}"
            return f"{ERROR_PREFIX}{self.error}\n"
        except OSError as exc:
            self.status = "error"
            self.error = f"artifact failed: {exc}"
            return f"{ERROR_PREFIX}{self.error}\n"
        if built:
            self.has_artifact = True
            self.artifact_path = dest
        return ""

    def _finish(self) -> None:
        if self._released:
            return
        self._released = True
        self.duration_s = round(time.monotonic() - self._t0, 6)
        if self.status == "running":
            self.status = "error"
            self.error = self.error or "cancelled"
        self._channel.close()
        self._finished.set()
        holds = [h for h in self._holds if not (isinstance(h, asyncio.Future) and h.done())]
        if holds:  # the mesh keeps this run (and so this task) until task_done
            self._release = asyncio.get_running_loop().create_task(self._release_after(holds))
        else:
            self.mesh.task_done(self)

    def forget_holds(self) -> None:
        """Stop waiting for work that outlived the stream (the mesh is closing)."""
        if self._release is not None:
            self._release.cancel()

    async def _release_after(self, holds: list[Awaitable[Any]]) -> None:
        await asyncio.gather(*holds, return_exceptions=True)
        self.mesh.task_done(self)


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):
        task.uncancel()


__all__ = [
    "KILLED",
    "SANDBOX_EXITED",
    "SHUTDOWN_TAIL",
    "ByteChannel",
    "FinalChunk",
    "TaskRun",
    "TaskStatus",
    "is_valid_task_id",
]
