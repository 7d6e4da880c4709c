"""The embedded mesh: its workers, their telemetry and snapshots, routing and dispatch.

Everything here runs on the gateway's event loop. The HTTP layer only calls ``snapshot`` /
``route`` / ``open_task`` and iterates ``run.chunks()`` (or ``run.lines()``); one
:class:`TaskRun` per task handles the agent, slot, timeout and artifact below it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import orjson

from agentfm_nb.mesh.agents import Agent, AgentError, build_agent
from agentfm_nb.mesh.agents.guard import AgentGuard
from agentfm_nb.mesh.artifacts import OutputFolders
from agentfm_nb.mesh.config import ConfigError, MeshConfig, expanded_names
from agentfm_nb.mesh.events import EventBus
from agentfm_nb.mesh.keystore import worker_identities
from agentfm_nb.mesh.refusals import UnknownWorker, WorkerBusy
from agentfm_nb.mesh.routing import pick_worker
from agentfm_nb.mesh.taskrun import TaskRun, is_valid_task_id
from agentfm_nb.mesh.telemetry import HostSample, HostTelemetry
from agentfm_nb.mesh.workers import Worker, WorkerSnapshot, iso_utc


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
        self._outputs: OutputFolders | None = None
        self._workers: dict[str, Worker] = {}
        self._by_name: dict[str, list[Worker]] = {}
        self._by_engine: dict[str, list[Worker]] = {}
        self._agents: list[Agent] = []
        self._runs: set[TaskRun] = set()
        self._guard = AgentGuard()
        self._telemetry: HostTelemetry | None = None
        self._host: HostSample | None = None
        self._host_iso = iso_utc(time.time())
        self._tick: asyncio.Task[None] | None = None
        self._lists: dict[bool, list[WorkerSnapshot]] = {}
        self._wires: dict[bool, list[dict[str, Any]]] = {}
        self._bodies: dict[bool, bytes] = {}
        # each worker's encoded /api/workers entry, in listing order; ``_stale`` positions are
        # re-encoded at the next read
        self._order: list[Worker] = []
        self._position: dict[Worker, int] = {}
        self._fragments: list[bytes] = []
        self._stale: set[int] = set()
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
        self._outputs = OutputFolders(self._work_root)
        self._telemetry = HostTelemetry()
        if self._telemetry.has_gpu_probe:  # GPU fields right away, not only after a tick
            await self._telemetry.refresh(cpu=False)
        self._host = self._telemetry.latest
        self._host_iso = iso_utc(self._host.at)
        identities = worker_identities(self.config)
        # an upstream worker's key variable is its own: no command agent inherits it
        hidden_env = {s.api_key_env for s in self.config.workers if s.api_key_env}
        for spec in self.config.workers:
            try:
                agent = build_agent(spec, hidden_env=hidden_env, guard=self._guard)
            except AgentError as exc:
                raise ConfigError(f"worker {spec.name!r}: {exc.message}") from None
            self._agents.append(agent)
            for name in expanded_names(spec):
                worker = Worker(spec, name, identities[name], agent)
                self._workers[worker.peer_id] = worker
                self._position[worker] = len(self._order)
                self._stale.add(len(self._order))
                self._order.append(worker)
                self._fragments.append(b"")  # stale: encoded at the first read
                self._by_name.setdefault(name.lower(), []).append(worker)
                self._by_engine.setdefault(spec.engine.lower(), []).append(worker)
        if any(spec.kind == "command" for spec in self.config.workers):
            self._guard.start()  # once the config is known good: nothing to clean up otherwise
        self._tick = asyncio.get_running_loop().create_task(self._telemetry_loop())
        for worker in self._workers.values():
            if worker.online:
                self._publish_online(worker)

    async def drain(self, reason: str = "gateway shutting down") -> None:
        """Refuse new tasks and stop the running ones; their streams end normally (status error).

        Call before closing HTTP connections at shutdown so every stream gets its final lines.
        """
        self._draining = True
        await asyncio.gather(*(run.abort(reason) for run in list(self._runs)))

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
        for run in list(self._runs):  # slots held by python work that never returned
            run.forget_holds()
        for agent in self._agents:
            with contextlib.suppress(Exception):
                await agent.aclose()
        self.events.close()
        await asyncio.to_thread(self._guard.close)  # it sweeps once more, then exits
        if self._outputs is not None:
            await self._outputs.remove_all()

    async def __aenter__(self) -> Mesh:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def outputs(self) -> OutputFolders:
        """Where task output folders are made (after :meth:`start`)."""
        if self._outputs is None:
            raise RuntimeError("mesh not started")
        return self._outputs

    # -- telemetry -----------------------------------------------------------------------

    async def _telemetry_loop(self) -> None:
        assert self._telemetry is not None
        while True:
            await asyncio.sleep(self.config.telemetry_interval_s)
            try:
                self._host = await self._telemetry.refresh()
            except Exception:
                continue  # keep the last sample; telemetry must never stop the mesh
            self._host_iso = iso_utc(self._host.at)
            for worker in self._workers.values():
                worker.snap = None
                if worker.online:
                    worker.last_seen = self._host.at
            self._stale.update(range(len(self._order)))
            self._changed()

    def _changed(self, worker: Worker | None = None) -> None:
        if worker is not None:
            worker.snap = None
            self._stale.add(self._position[worker])
        self._lists.clear()
        self._wires.clear()
        self._bodies.clear()
        self.version += 1

    # -- reading -------------------------------------------------------------------------

    def _snap(self, worker: Worker) -> WorkerSnapshot:
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
        """The whole ``/api/workers`` body, encoded (cached per ``version``).

        Built from per-worker encoded fragments, so a task starting or finishing re-encodes one
        worker and joins bytes, instead of re-encoding a thousand of them.
        """
        cached = self._bodies.get(include_offline)
        if cached is not None:
            return cached
        online = self.online_count
        parts = self._fragments
        stale = self._stale
        if stale:
            workers = self._order
            for i in stale:
                parts[i] = orjson.dumps(self._snap(workers[i]).wire)
            stale.clear()
        if not include_offline and online != len(parts):
            parts = [p for w, p in zip(self._order, parts, strict=True) if w.online]
        # byte for byte what orjson.dumps of the whole dict gives (keys in this order), in one
        # copy: the head and tail ride on the first and last fragment
        head = b'{"success":true,"online_count":%d,"offline_count":%d,"agents":[' % (
            online,
            # offline peers are skipped before counting unless asked for (handleGetWorkers)
            len(self._workers) - online if include_offline else 0,
        )
        if not parts:
            data = head + b"]}"
        elif len(parts) == 1:
            data = head + parts[0] + b"]}"
        else:
            data = b",".join([head + parts[0], *parts[1:-1], parts[-1] + b"]}"])
        self._bodies[include_offline] = data
        return data

    def worker(self, peer_id: str) -> Worker | None:
        """The live worker (read it, never change it): what a dispatch checks, without the
        snapshot :meth:`lookup` builds (each task start or end drops the worker's snapshot)."""
        return self._workers.get(peer_id)

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
        return self._snap(pick_worker(model, self._workers, self._by_name, self._by_engine))

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
        if not worker.has_capacity:
            raise WorkerBusy(peer_id, worker.spec.max_tasks)
        worker.current += 1
        self._changed(worker)
        run = TaskRun(self, worker, prompt, task_id)
        self._runs.add(run)
        self.events.publish("task_started", peer_id=peer_id, task_id=task_id)
        return run

    def task_done(self, run: TaskRun) -> None:
        """Free the run's slot and announce it (the run calls this once, when it is final)."""
        if run not in self._runs:
            return
        self._runs.discard(run)
        worker = run.worker
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

    def _publish_online(self, worker: Worker) -> None:
        self.events.publish(
            "worker_online",
            peer_id=worker.peer_id,
            agent_name=worker.name,
            honesty_score=worker.spec.honesty_score,
        )


__all__ = ["Mesh"]
