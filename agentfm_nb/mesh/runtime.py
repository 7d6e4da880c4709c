"""The embedded mesh: workers, their telemetry, routing, and one ``TaskRun`` per dispatched task.

Everything here runs on the gateway's event loop. The HTTP layer only calls ``snapshot`` /
``route`` / ``open_task`` and iterates ``run.lines()``; agents, slots, timeouts, artifacts and
events are handled below it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from agentfm_nb.errors import AgentFMError
from agentfm_nb.mesh.agents import Agent, AgentError, build_agent
from agentfm_nb.mesh.artifacts import ArtifactRefused, build_artifact, has_files
from agentfm_nb.mesh.config import ConfigError, MeshConfig, WorkerSpec, expanded_names
from agentfm_nb.mesh.events import EventBus
from agentfm_nb.mesh.peerid import Identity, identity_from_private_bytes, new_identity
from agentfm_nb.mesh.telemetry import HostSample, HostTelemetry

TASK_ID_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")
MARKER_PREFIX = "[AGENTFM:"
TaskStatus = Literal["running", "ok", "error"]
_CHANNEL_BATCHES = 32
_KEYS_FILE = "worker_keys.json"


class UnknownWorker(AgentFMError):
    """No online worker has this peer id (HTTP 404 ``Worker not found or offline``)."""

    def __init__(self, peer_id: str) -> None:
        super().__init__("Worker not found or offline", code="worker_not_found", status=404)
        self.peer_id = peer_id


class WorkerBusy(AgentFMError):
    """The worker is running ``max_tasks`` tasks already."""

    def __init__(self, peer_id: str, max_tasks: int) -> None:
        super().__init__(
            f"worker {peer_id} is at capacity ({max_tasks} tasks)",
            code="worker_busy",
            status=503,
        )
        self.peer_id = peer_id


class RouteError(AgentFMError):
    """``model_not_found`` (404) or ``mesh_overloaded`` (503) from :meth:`Mesh.route`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, status=404 if code == "model_not_found" else 503)


def is_valid_task_id(task_id: object) -> bool:
    return isinstance(task_id, str) and TASK_ID_RE.match(task_id) is not None


def _iso(ts: float) -> str:
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

    @property
    def agent_name(self) -> str:
        return self.name

    @property
    def model(self) -> str:
        return self.engine

    @property
    def has_capacity(self) -> bool:
        return self.current_tasks < self.max_tasks

    @property
    def load_ratio(self) -> float:
        return self.current_tasks / self.max_tasks

    def to_wire(self) -> dict[str, Any]:
        """The ``/api/workers`` agent object (a fresh copy)."""
        return dict(self.wire)


class _Worker:
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
        busy = self.current >= spec.max_tasks
        wire: dict[str, Any] = {
            "peer_id": self.peer_id,
            "author": spec.author,
            "name": self.name,
            "status": "BUSY" if busy else "AVAILABLE",
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
            "last_seen": now_iso if self.online else _iso(self.last_seen),
        }
        snap = WorkerSnapshot(
            peer_id=self.peer_id,
            name=self.name,
            author=spec.author,
            engine=spec.engine,
            description=spec.description,
            hardware=wire["hardware"],
            status=wire["status"],
            kind=spec.kind,
            cpu_usage_pct=host.cpu_usage_pct,
            ram_free_gb=host.ram_free_gb,
            current_tasks=self.current,
            max_tasks=spec.max_tasks,
            has_gpu=host.has_gpu,
            gpu_used_gb=host.gpu_used_gb,
            gpu_total_gb=host.gpu_total_gb,
            gpu_usage_pct=host.gpu_usage_pct,
            honesty_score=spec.honesty_score,
            is_equivocator=False,
            dispatch_allowed=True,
            online=self.online,
            last_seen=wire["last_seen"],
            wire=wire,
        )
        self.snap = snap
        return snap


class _Channel:
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
        while items:
            batch.extend(items.popleft())
        self._writable.set()
        return batch


class TaskRun:
    """One task on one worker: ``async with mesh.open_task(...) as run: async for line in ...``.

    After the lines end, ``status`` / ``error`` / ``has_artifact`` / ``duration_s`` are final.
    Leaving the ``async with`` early kills the agent and frees the slot.
    """

    def __init__(self, mesh: Mesh, worker: _Worker, prompt: str, task_id: str) -> None:
        self.mesh = mesh
        self.task_id = task_id
        self.peer_id = worker.peer_id
        self.worker_name = worker.name
        self.prompt = prompt
        self.status: TaskStatus = "running"
        self.error: str | None = None
        self.exit_code: int | None = None
        self.has_artifact = False
        self.artifact_path: Path | None = None
        self.line_count = 0
        self.created_at = time.time()
        self.duration_s = 0.0
        self.timeout_s = worker.spec.timeout_s or mesh.config.task_timeout_s
        self._worker = worker
        self._t0 = time.monotonic()
        self._channel = _Channel(_CHANNEL_BATCHES)
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
                if self._worker.agent.uses_output_dir:
                    out_dir = mesh._new_output_dir(self.task_id)
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
                await mesh._discard_output_dir(out_dir)
            self._finish()

    async def _pump(self, out_dir: Path | None) -> None:
        put = self._channel.put
        gen = self._worker.agent.stream(self.prompt, out_dir)
        try:
            async for batch in gen:
                # one C-level scan first; the exact per-line filter runs only on a hit
                if MARKER_PREFIX in "\n".join(batch) and any(
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
        self.mesh._release(self)
        self._channel.close()
        self._finished.set()


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):
        task.uncancel()


class Mesh:
    """The embedded workers. ``await start()`` before use, ``await aclose()`` to stop everything."""

    def __init__(
        self,
        config: MeshConfig,
        *,
        artifacts_dir: Path,
        work_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.artifacts_dir = Path(artifacts_dir)
        self.events = EventBus()
        self.started_at = time.time()
        self.version = 0  # bumped whenever any snapshot changes
        self._work_root = work_dir
        self._work_dir: Path | None = None
        self._dir_seq = itertools.count()
        self._workers: dict[str, _Worker] = {}
        self._by_name: dict[str, list[_Worker]] = {}
        self._by_engine: dict[str, list[_Worker]] = {}
        self._agents: list[Agent] = []
        self._runs: set[TaskRun] = set()
        self._telemetry: HostTelemetry | None = None
        self._host: HostSample | None = None
        self._host_iso = _iso(time.time())
        self._tick: asyncio.Task[None] | None = None
        self._lists: dict[bool, list[WorkerSnapshot]] = {}
        self._wires: dict[bool, list[dict[str, Any]]] = {}
        self._bodies: dict[bool, bytes] = {}
        self._online: int | None = None
        self._started = False
        self._closed = False
        self._draining = False

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("mesh already started")
        self._started = True
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        if self._work_root is not None:
            self._work_root.mkdir(parents=True, exist_ok=True)
        self._work_dir = Path(tempfile.mkdtemp(prefix="agentfm-mesh-", dir=self._work_root))
        self._telemetry = HostTelemetry()
        if self._telemetry.has_gpu_probe:  # GPU fields right away, not only after a tick
            await self._telemetry.refresh(cpu=False)
        self._host = self._telemetry.latest
        self._host_iso = _iso(self._host.at)
        identities = self._identities()
        for spec in self.config.workers:
            try:
                agent = build_agent(spec)
            except AgentError as exc:
                raise ConfigError(f"worker {spec.name!r}: {exc.message}") from None
            self._agents.append(agent)
            for name in expanded_names(spec):
                worker = _Worker(spec, name, identities[name], agent)
                self._workers[worker.peer_id] = worker
                self._by_name.setdefault(name.lower(), []).append(worker)
                self._by_engine.setdefault(spec.engine.lower(), []).append(worker)
        self._tick = asyncio.get_running_loop().create_task(self._telemetry_loop())
        for worker in self._workers.values():
            if worker.online:
                self._publish_online(worker)

    async def drain(self, reason: str = "gateway shutting down") -> None:
        """Refuse new tasks and stop the running ones; their streams end normally (status error).

        Call before closing HTTP connections at shutdown so every stream gets its final lines.
        """
        self._draining = True
        runs = list(self._runs)
        for run in runs:
            run._stop(reason)
        pending = [run._producer for run in runs if run._producer is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for run in runs:
            if run._producer is None:  # reserved but never entered
                run.error = reason
                run._finish()

    async def aclose(self) -> None:
        """Kill every running agent (no orphans), end event streams, remove temp folders."""
        if self._closed:
            return
        self._closed = True
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
        await self.drain()
        for agent in self._agents:
            with contextlib.suppress(Exception):
                await agent.aclose()
        self.events.close()
        if self._work_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._work_dir, True)

    async def __aenter__(self) -> Mesh:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _identities(self) -> dict[str, Identity]:
        names = [n for spec in self.config.workers for n in expanded_names(spec)]
        seed = self.config.seed
        if seed is not None:
            return {n: new_identity(f"agentfm-nb/peer/{seed}/{n}".encode()) for n in names}
        state = self.config.state_dir
        if state is None:
            return {n: new_identity() for n in names}
        return _load_or_create_keys(state / _KEYS_FILE, names)

    # -- telemetry -----------------------------------------------------------------------

    async def _telemetry_loop(self) -> None:
        assert self._telemetry is not None
        while True:
            await asyncio.sleep(self.config.telemetry_interval_s)
            try:
                self._host = await self._telemetry.refresh()
            except Exception:
                continue  # keep the last sample; telemetry must never stop the mesh
            self._host_iso = _iso(self._host.at)
            for worker in self._workers.values():
                worker.snap = None
                if worker.online:
                    worker.last_seen = self._host.at
            self._changed()

    def _changed(self, worker: _Worker | None = None) -> None:
        if worker is not None:
            worker.snap = None
        self._lists.clear()
        self._wires.clear()
        self._bodies.clear()
        self.version += 1

    # -- reading -------------------------------------------------------------------------

    def _snap(self, worker: _Worker) -> WorkerSnapshot:
        host = self._host
        if host is None:
            raise RuntimeError("mesh not started")
        return worker.snapshot(host, self._host_iso)

    def snapshot(self, include_offline: bool = False) -> list[WorkerSnapshot]:
        cached = self._lists.get(include_offline)
        if cached is None:
            snap = self._snap
            cached = [snap(w) for w in self._workers.values() if include_offline or w.online]
            self._lists[include_offline] = cached
        return list(cached)

    def wire_agents(self, include_offline: bool = False) -> list[dict[str, Any]]:
        """``/api/workers`` agents as shared, read-only dicts (cached until something changes)."""
        cached = self._wires.get(include_offline)
        if cached is None:
            cached = [s.wire for s in self.snapshot(include_offline)]
            self._wires[include_offline] = cached
        return cached

    def workers_json(self, include_offline: bool = False) -> bytes:
        """The whole ``/api/workers`` body, encoded (cached per ``version``)."""
        cached = self._bodies.get(include_offline)
        if cached is not None:
            return cached
        online = self.online_count
        body = {
            "success": True,
            "online_count": online,
            "offline_count": len(self._workers) - online,
            "agents": self.wire_agents(include_offline),
        }
        data = json.dumps(body, separators=(",", ":")).encode()
        self._bodies[include_offline] = data
        return data

    def lookup(self, peer_id: str) -> WorkerSnapshot | None:
        worker = self._workers.get(peer_id)
        return None if worker is None else self._snap(worker)

    @property
    def online_count(self) -> int:
        count = self._online
        if count is None:
            count = self._online = sum(1 for w in self._workers.values() if w.online)
        return count

    @property
    def offline_count(self) -> int:
        return len(self._workers) - self.online_count

    @property
    def running_tasks(self) -> int:
        return len(self._runs)

    def route(self, model: str) -> WorkerSnapshot:
        """Pick a worker for an OpenAI ``model``: peer id, then agent name, then engine."""
        worker = self._workers.get(model)
        if worker is not None and worker.online:
            tier = [worker]
        else:
            key = model.strip().lower()
            tier = [w for w in self._by_name.get(key, ()) if w.online]
            if not tier:
                tier = [w for w in self._by_engine.get(key, ()) if w.online]
        if not tier:
            raise RouteError("model_not_found", f"no worker serves model {model!r}")
        best: _Worker | None = None
        best_load = 2.0
        for w in tier:
            load = w.current / w.spec.max_tasks
            if w.current < w.spec.max_tasks and load < best_load:
                best, best_load = w, load
                if load == 0.0:
                    break  # nothing beats an idle worker (CPU is host-wide, so no tie-break)
        if best is None:
            raise RouteError("mesh_overloaded", f"every worker for {model!r} is at capacity")
        return self._snap(best)

    # -- dispatch ------------------------------------------------------------------------

    def open_task(self, peer_id: str, prompt: str, task_id: str) -> TaskRun:
        """Reserve a slot now and return the run; enter it (``async with``) to start the agent."""
        if not self._started or self._closed or self._draining:
            raise UnknownWorker(peer_id)
        if not is_valid_task_id(task_id):
            raise ValueError("Invalid task_id format")
        worker = self._workers.get(peer_id)
        if worker is None or not worker.online:
            raise UnknownWorker(peer_id)
        if worker.current >= worker.spec.max_tasks:
            raise WorkerBusy(peer_id, worker.spec.max_tasks)
        worker.current += 1
        self._changed(worker)
        run = TaskRun(self, worker, prompt, task_id)
        self._runs.add(run)
        self.events.publish("task_started", peer_id=peer_id, task_id=task_id)
        return run

    def _release(self, run: TaskRun) -> None:
        if run not in self._runs:
            return
        self._runs.discard(run)
        worker = run._worker
        worker.current -= 1
        self._changed(worker)
        self.events.publish(
            "task_finished",
            peer_id=run.peer_id,
            task_id=run.task_id,
            status=run.status,
            duration_s=run.duration_s,
        )

    def set_online(self, peer_id: str, online: bool) -> None:
        worker = self._workers.get(peer_id)
        if worker is None:
            raise UnknownWorker(peer_id)
        if worker.online == online:
            return
        worker.online = online
        worker.last_seen = time.time()
        self._online = None
        self._changed(worker)
        if online:
            self._publish_online(worker)
        else:
            self.events.publish("worker_offline", peer_id=peer_id)

    def _publish_online(self, worker: _Worker) -> None:
        self.events.publish(
            "worker_online",
            peer_id=worker.peer_id,
            agent_name=worker.name,
            honesty_score=worker.spec.honesty_score,
        )

    def _new_output_dir(self, task_id: str) -> Path:
        # One mkdir in the mesh's private folder; the counter keeps reused task ids apart.
        assert self._work_dir is not None
        path = self._work_dir / f"{task_id}-{next(self._dir_seq)}"
        os.mkdir(path, 0o700)
        return path

    async def _discard_output_dir(self, path: Path) -> None:
        try:
            os.rmdir(path)  # empty (the common case): one call, no thread
            return
        except OSError:
            pass
        # rmtree never follows links; a big folder is removed off the loop
        try:
            await asyncio.to_thread(shutil.rmtree, path, True)
        except asyncio.CancelledError:
            shutil.rmtree(path, ignore_errors=True)  # cancelled twice: finish the job inline
            raise


def _load_or_create_keys(path: Path, names: list[str]) -> dict[str, Identity]:
    """Worker keys kept across restarts in ``<state_dir>/worker_keys.json`` (mode 0600)."""
    stored: dict[str, str] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read worker keys {str(path)!r}: {exc}") from None
        if isinstance(data, dict):
            stored = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
    out: dict[str, Identity] = {}
    changed = False
    for name in names:
        raw = stored.get(name)
        ident: Identity | None = None
        if raw is not None:
            with contextlib.suppress(ValueError):
                ident = identity_from_private_bytes(bytes.fromhex(raw))
        if ident is None:
            ident = new_identity()
            stored[name] = ident.private_bytes().hex()
            changed = True
        out[name] = ident
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(stored, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    return out


__all__ = [
    "TASK_ID_RE",
    "Mesh",
    "RouteError",
    "TaskRun",
    "UnknownWorker",
    "WorkerBusy",
    "WorkerSnapshot",
    "is_valid_task_id",
]
