"""The kernel's task journal: every task this process dispatched, newest last.

``client.tasks`` records each ``/api/execute`` stream here (``run``, ``stream``, the scatter
engine's attempts and the chat widget all go through it), so ``TaskHistory`` and
``WorkerInspector`` can show what this kernel asked of the mesh. The journal is small on
purpose: bounded (old records fall off), thread-safe (tasks run on the portal loop while cells
read from the main thread), and listeners are told of every change without being able to
break a dispatch.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

DEFAULT_MAXLEN = 5_000
PROMPT_CHARS = 4_000  # a journal of 5,000 pasted documents must not hold them all
_TAIL_CHARS = 8_192  # enough of the output to see the gateway's final error line

Listener = Callable[["TaskRecord"], None]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(slots=True)
class TaskRecord:
    """One dispatched task. ``status``: running, done, failed or cancelled."""

    seq: int
    task_id: str
    prompt: str
    peer_id: str
    gateway: str = ""
    agent: str = ""
    status: str = "running"
    started_at: float = 0.0  # epoch seconds
    finished_at: float | None = None
    duration_s: float | None = None
    error: str | None = None
    files_incoming: bool = False
    artifacts_dir: str | None = None  # where this task's files are extracted
    _t0: float = field(default=0.0, repr=False)

    @property
    def artifact_folder(self) -> Path | None:
        if not self.files_incoming or not self.artifacts_dir:
            return None
        return Path(self.artifacts_dir) / self.task_id

    def artifacts(self) -> list[Path]:
        """The files extracted for this task so far (empty until harvested)."""
        from agentfm_nb.widgets.artifacts import task_files

        folder = self.artifact_folder
        return [] if folder is None else task_files(folder)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_t0", None)
        return data


class TaskJournal:
    """A bounded, thread-safe record of tasks with change listeners."""

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        self._lock = threading.RLock()
        self._records: deque[TaskRecord] = deque(maxlen=maxlen)
        self._listeners: list[Listener] = []
        self._names: dict[str, str] = {}
        self._seq = 0
        self.version = 0  # bumps on every change; cheap "anything new?" for pollers

    # --- writing -------------------------------------------------------------------------------
    def started(
        self,
        peer_id: str,
        prompt: str,
        task_id: str,
        *,
        gateway: str = "",
        artifacts_dir: Path | str | None = None,
    ) -> TaskRecord:
        with self._lock:
            self._seq += 1
            record = TaskRecord(
                seq=self._seq,
                task_id=str(task_id),
                prompt=str(prompt)[:PROMPT_CHARS],
                peer_id=str(peer_id),
                gateway=gateway,
                agent=self._names.get(str(peer_id), ""),
                started_at=time.time(),
                artifacts_dir=None if artifacts_dir is None else str(artifacts_dir),
                _t0=time.monotonic(),
            )
            self._records.append(record)
            self.version += 1
        self._notify(record)
        return record

    def finished(
        self,
        record: TaskRecord,
        status: str,
        *,
        error: str | None = None,
        files_incoming: bool = False,
    ) -> None:
        with self._lock:
            record.status = status
            record.error = error
            record.files_incoming = files_incoming
            record.finished_at = time.time()
            record.duration_s = round(time.monotonic() - record._t0, 4)
            if not record.agent:
                record.agent = self._names.get(record.peer_id, "")
            self.version += 1
        self._notify(record)

    def learn_names(self, workers: Iterable[Any]) -> None:
        """Remember agent names by peer id (from any worker listing) and fill blank records."""
        with self._lock:
            for w in workers:
                name = str(getattr(w, "name", "") or "")
                if name:
                    self._names[str(w.peer_id)] = name
            changed = False
            for r in self._records:
                if not r.agent and r.peer_id in self._names:
                    r.agent = self._names[r.peer_id]
                    changed = True
            if changed:
                self.version += 1

    def agent_name(self, peer_id: str) -> str:
        with self._lock:
            return self._names.get(str(peer_id), "")

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self.version += 1

    # --- reading -------------------------------------------------------------------------------
    def records(self, *, peer_id: str | None = None, since_seq: int = 0) -> list[TaskRecord]:
        with self._lock:
            return [
                r
                for r in self._records
                if r.seq > since_seq and (peer_id is None or r.peer_id == peer_id)
            ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def to_dataframe(self, *, peer_id: str | None = None) -> Any:
        return records_dataframe(self.records(peer_id=peer_id))

    # --- listeners -----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(record)`` on every start and finish (from the dispatching thread);
        returns the function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, record: TaskRecord) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(record)
            except Exception:  # a broken view must never fail a dispatch
                continue


def records_dataframe(records: Iterable[TaskRecord]) -> Any:
    """One row per task: prompt, agent, peer_id, status, started, duration_s, error, artifacts."""
    import pandas as pd

    rows = [
        {
            "task_id": r.task_id,
            "prompt": r.prompt,
            "agent": r.agent,
            "peer_id": r.peer_id,
            "status": r.status,
            "started": pd.Timestamp(r.started_at, unit="s", tz="UTC"),
            "duration_s": r.duration_s,
            "error": r.error,
            "artifacts": [p.name for p in r.artifacts()],
            "gateway": r.gateway,
        }
        for r in records
    ]
    columns = [
        "task_id", "prompt", "agent", "peer_id", "status", "started", "duration_s", "error",
        "artifacts", "gateway",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


journal = TaskJournal()


# --- recording dispatches ----------------------------------------------------------------------
class _Tail:
    """The last few KB of a task's text, to read the gateway's final error line."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: deque[str] = deque()
        self.size = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        while self.size - len(self.parts[0]) >= _TAIL_CHARS:
            self.size -= len(self.parts.popleft())

    def error(self) -> str | None:
        # In-band failures: a real worker answers 200 with text that says so (see _inband).
        # imported here: the client package imports this module while it loads
        from agentfm_nb.client._inband import agent_failure, capacity_refusal

        text = "".join(self.parts)
        refused = capacity_refusal(text)
        if refused is not None:
            return f"worker at max capacity ({refused[0]}/{refused[1]})"
        return agent_failure(text)


@functools.lru_cache(maxsize=64)
def _gateway_label(url: str) -> str:
    """Scheme, host, port and path only: a URL's credentials and query never reach a record."""
    import httpx

    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return ""
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{u.host}{port}{u.path.rstrip('/')}"


class _Trace:
    """One dispatch being recorded: its journal record and the tail of its text."""

    __slots__ = ("exhausted", "failure", "record", "splitter", "tail")

    def __init__(self, resource: Any, worker_id: str, prompt: str, task_id: str, splitter: Any):
        client = resource._client
        adir = getattr(client, "artifacts_dir", None)
        gateway = _gateway_label(str(getattr(client, "gateway_url", "") or ""))
        self.record = journal.started(
            worker_id, prompt, task_id, gateway=gateway, artifacts_dir=adir
        )
        self.splitter = splitter
        self.tail = _Tail()
        self.exhausted = False
        self.failure: BaseException | None = None

    def see(self, chunk: Any) -> Any:
        if chunk.kind == "text":
            self.tail.add(chunk.text)
        return chunk

    def end(self) -> None:
        exc = self.failure
        files = bool(getattr(self.splitter, "files_incoming", False))
        if self.exhausted:
            error = self.tail.error()
            status = "failed" if error is not None else "done"
        elif exc is None or isinstance(exc, GeneratorExit) or _is_cancel(exc):
            status, error = "cancelled", None  # the consumer left early or was cancelled
        else:
            status, error = "failed", str(getattr(exc, "message", None) or exc)[:500]
        journal.finished(self.record, status, error=error, files_incoming=files)


def _is_cancel(exc: BaseException) -> bool:
    import asyncio

    return isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt))


def traced(fn: F) -> F:
    """Record a ``_chunks(self, worker_id, prompt, task_id, splitter)`` stream in the journal.

    Wraps the sync or async generator so each chunk passes straight through; the inner stream
    is closed by the wrapper at once on an early exit (the gateway then stops the agent).
    """
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def agen(self: Any, *args: Any) -> AsyncGenerator[Any, None]:
            trace = _Trace(self, *args)
            inner = fn(self, *args)
            try:
                async for chunk in inner:
                    yield trace.see(chunk)
                trace.exhausted = True
            except BaseException as exc:
                trace.failure = exc
                raise
            finally:
                try:
                    await inner.aclose()
                finally:
                    trace.end()

        return agen  # type: ignore[return-value]

    @functools.wraps(fn)
    def gen(self: Any, *args: Any) -> Generator[Any, None, None]:
        trace = _Trace(self, *args)
        inner = fn(self, *args)
        try:
            for chunk in inner:
                yield trace.see(chunk)
            trace.exhausted = True
        except BaseException as exc:
            trace.failure = exc
            raise
        finally:
            try:
                inner.close()
            finally:
                trace.end()

    return gen  # type: ignore[return-value]


__all__ = ["TaskJournal", "TaskRecord", "journal", "records_dataframe", "traced"]
