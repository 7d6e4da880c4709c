"""``WorkerInspector``: one worker up close (front end: ``js/widgets/inspector.ts``).

Its description, engine, hardware, honesty and, when the gateway serves its reputation, the
agent image and capability; 5-minute sparklines of CPU, free RAM, GPU and queue sampled from
``/api/workers``; the tasks this kernel sent it (from the task journal); a Dispatch box that
streams one prompt to exactly this peer, and History.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections import deque
from pathlib import Path
from typing import Any

import traitlets as t

from agentfm_nb.client._inband import agent_failure
from agentfm_nb.client._shared import match_model, new_task_id
from agentfm_nb.errors import AgentFMError
from agentfm_nb.journal import TaskRecord, journal, records_dataframe
from agentfm_nb.widgets._base import BaseWidget, make_async_client, safe_url
from agentfm_nb.widgets.artifacts import artifact_cards, read_artifact
from agentfm_nb.widgets.task_history import publish_later, task_row
from agentfm_nb.wire import FILES_INCOMING

_RECENT = 20
_REPUTATION_EVERY_S = 30.0
_DISPATCH_FLUSH_S = 0.1
_DISPATCH_CHARS = 20_000  # what the inspector keeps of an answer (the chat widget is for more)
_METRICS = ("cpu", "ram", "gpu", "queue")

# Samples per (gateway, peer), shared by every inspector of the kernel: a second inspector
# of the same worker starts with the curve the first one drew.
_samples: dict[tuple[str, str], deque[tuple[float, float, float, float, float]]] = {}


def _worker_fields(w: Any) -> dict[str, Any]:
    return {
        "peer_id": str(w.peer_id),
        "name": w.name,
        "engine": w.engine,
        "author": w.author,
        "description": w.description,
        "hardware": w.hardware,
        "status": str(w.status).upper() if w.online else "OFFLINE",
        "online": bool(w.online),
        "cpu_usage_pct": round(float(w.cpu_usage_pct), 1),
        "ram_free_gb": round(float(w.ram_free_gb), 2),
        "has_gpu": bool(w.has_gpu),
        "gpu_used_gb": round(float(w.gpu_used_gb), 2),
        "gpu_total_gb": round(float(w.gpu_total_gb), 2),
        "gpu_usage_pct": round(float(w.gpu_usage_pct), 1),
        "current_tasks": int(w.current_tasks),
        "max_tasks": int(w.max_tasks),
        "honesty_score": round(float(w.honesty_score), 3),
        "is_equivocator": bool(w.is_equivocator),
        "dispatch_allowed": bool(w.dispatch_allowed),
        "dispatch_refuse_reason": w.dispatch_refuse_reason,
        "last_seen": w.last_seen,
    }


def _reputation_fields(rep: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rating_count": int(rep.rating_count),
        "scores": {k: round(float(v), 3) for k, v in (rep.scores or {}).items()},
    }
    for key in ("agent_image_ref", "agent_image_digest", "agent_capability", "last_updated"):
        value = getattr(rep, key, None)
        if value:
            out[key] = str(value)
    if rep.is_equivocator:
        out["is_equivocator"] = True
    return out


class WorkerInspector(BaseWidget):
    """One worker: facts, live sparklines, this kernel's tasks on it, Dispatch and History."""

    _bundle = "inspector"

    worker = t.Dict().tag(sync=True)
    series = t.Dict().tag(sync=True)
    tasks = t.List(t.Dict()).tag(sync=True)
    dispatch_state = t.Dict().tag(sync=True)
    state = t.Unicode("connecting").tag(sync=True)

    def __init__(
        self,
        peer: Any,
        client: Any = None,
        *,
        live: bool = True,
        interval: float = 1.0,
        window_s: float = 300.0,
    ) -> None:
        super().__init__()
        self._client = client
        self._query = str(getattr(peer, "peer_id", peer))
        self.peer_id = self._query if self._query.startswith("12D3Koo") else ""
        self._interval = min(max(float(interval), 0.25), 10.0)
        self._window = max(float(window_s), 10.0)
        self._gateway = ""
        self._files: list[Path] = []
        self._files_root: Path | None = None
        self._tasks_dirty = False
        self._dispatch_task: asyncio.Task[Any] | None = None
        self.dispatch_state = {"state": "idle", "prompt": "", "text": "", "error": None}
        self.worker = {"peer_id": self.peer_id, "name": "" if self.peer_id else self._query}
        self._unsubscribe = journal.subscribe(self._heard)
        self._refresh_tasks()
        self._submit(self._run(live))

    # --- public -------------------------------------------------------------------------------
    @property
    def dataframe(self) -> Any:
        """The telemetry samples: time (UTC), cpu_pct, ram_free_gb, gpu_pct, queue."""
        import pandas as pd

        rows = list(self._series_store())
        frame = pd.DataFrame(rows, columns=["time", "cpu_pct", "ram_free_gb", "gpu_pct", "queue"])
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
        return frame

    @property
    def tasks_dataframe(self) -> Any:
        """This kernel's tasks on this worker (the journal's columns)."""
        return records_dataframe(
            journal.records(peer_id=self.peer_id or None) if self.peer_id else []
        )

    def dispatch(self, prompt: str) -> Any:
        """Stream ``prompt`` to this worker (shown in the inspector); returns a future."""
        prompt = str(prompt)
        if not prompt.strip():
            raise ValueError("empty prompt")
        if self._dispatch_task is not None and not self._dispatch_task.done():
            raise RuntimeError("a dispatch is still running: stop it first")
        return self._submit(self._dispatch_run(prompt))

    def chat(self, **kwargs: Any) -> Any:
        """A ``ChatWidget`` pinned to this worker (display it in a cell)."""
        from agentfm_nb.widgets.chat import ChatWidget

        return ChatWidget(self._client, peer_id=self.peer_id or self._query, **kwargs)

    def history(self) -> Any:
        """A ``TaskHistory`` of this kernel's tasks on this worker."""
        from agentfm_nb.widgets.task_history import TaskHistory

        return TaskHistory(self._client, peer_id=self.peer_id or self._query)

    def stop(self) -> None:
        """Stop live updates (the inspector keeps what it shows)."""
        self._cancel_all()
        self.state = "stopped"
        self.refresh_display()

    def close(self) -> None:
        self._unsubscribe()
        self._cancel_all()
        super().close()

    # --- telemetry ----------------------------------------------------------------------------
    def _series_store(self) -> deque[tuple[float, float, float, float, float]]:
        key = (self._gateway, self.peer_id)
        store = _samples.get(key)
        if store is None:
            store = _samples[key] = deque(maxlen=int(self._window / self._interval) + 8)
        return store

    def _sample(self, w: Any) -> None:
        store = self._series_store()
        now = time.time()
        store.append(
            (
                now,
                round(float(w.cpu_usage_pct), 1),
                round(float(w.ram_free_gb), 2),
                round(float(w.gpu_usage_pct), 1),
                float(w.current_tasks),
            )
        )
        while store and store[0][0] < now - self._window:
            store.popleft()
        cols = list(zip(*store, strict=True)) if store else [(), (), (), (), ()]
        self.series = {
            "t": [round(x, 2) for x in cols[0]],
            **{name: list(col) for name, col in zip(_METRICS, cols[1:], strict=True)},
            "max_tasks": int(w.max_tasks),
            "window_s": self._window,
        }

    async def _run(self, live: bool) -> None:
        client = make_async_client(self._client)
        self._gateway = safe_url(client.gateway_url)
        reputation_at = float("-inf")
        while True:
            try:
                workers = await client.workers.list()
                journal.learn_names(workers)
                found = self._find(workers)
                if found is None:
                    self.state = "not found"
                    self.worker = {**self.worker, "online": False, "status": "OFFLINE"}
                else:
                    if self.peer_id != str(found.peer_id):  # a name resolved: its tasks now
                        self.peer_id = str(found.peer_id)
                        self._tasks_dirty = True
                    self.worker = {**self.worker, **_worker_fields(found)}
                    self._sample(found)
                    self.state = "live" if live else "stopped"
                    if time.monotonic() - reputation_at > _REPUTATION_EVERY_S:
                        reputation_at = time.monotonic()
                        await self._read_reputation(client)
                if self._tasks_dirty:
                    self._refresh_tasks()
                publish_later(self)  # the next cell's end saves the curves
            except AgentFMError as exc:
                self.state = "unreachable"
                self.worker = {**self.worker, "error": exc.message[:200]}
            if not live:
                break
            await asyncio.sleep(self._interval)
        self._stamp()
        self.refresh_display()

    def _find(self, workers: list[Any]) -> Any:
        if self.peer_id:
            for w in workers:
                if str(w.peer_id) == self.peer_id:
                    return w
            return None
        matches = match_model(workers, self._query)
        return matches[0] if matches else None

    async def _read_reputation(self, client: Any) -> None:
        # Optional routes: a gateway without the reputation ledger answers 404; show what we have.
        with contextlib.suppress(AgentFMError):
            rep = await client.peers.reputation(self.peer_id)
            self.worker = {**self.worker, **_reputation_fields(rep)}
        with contextlib.suppress(AgentFMError):
            info = await client.peers.get(self.peer_id)
            raters = info.rater_summary
            self.worker = {
                **self.worker,
                "entries_count": int(info.entries_count),
                "verified_raters": int(raters.verified_raters_count),
                "unverified_raters": int(raters.unverified_raters_count),
            }

    # --- this kernel's tasks on it ---------------------------------------------------------------
    def _heard(self, record: TaskRecord) -> None:
        if record.peer_id == self.peer_id:
            self._tasks_dirty = True

    def _refresh_tasks(self) -> None:
        self._tasks_dirty = False
        if not self.peer_id:
            return
        records = journal.records(peer_id=self.peer_id)[-_RECENT:]
        self.tasks = [task_row(r) for r in reversed(records)]

    # --- dispatch -----------------------------------------------------------------------------
    async def _dispatch_run(self, prompt: str) -> None:
        self._dispatch_task = asyncio.current_task()
        started = time.monotonic()
        text: list[str] = []
        state: dict[str, Any] = {"state": "streaming", "prompt": prompt[:2000], "text": ""}
        state.update(error=None, artifacts=[], duration_s=None, task_id=None)
        self.dispatch_state = dict(state)
        last = 0.0
        files_incoming = False
        try:
            client = make_async_client(self._client)
            if not self.peer_id:
                found = self._find(await client.workers.list())
                self.peer_id = "" if found is None else str(found.peer_id)
            peer = self.peer_id or self._query
            task_id = state["task_id"] = new_task_id()
            stream = client.tasks.stream(worker_id=peer, prompt=prompt, task_id=task_id)
            async with contextlib.aclosing(stream) as chunks:
                async for chunk in chunks:
                    if chunk.kind == "text":
                        text.append(chunk.text)
                        if time.monotonic() - last >= _DISPATCH_FLUSH_S:
                            last = time.monotonic()
                            self.dispatch_state = {
                                **state,
                                "text": "".join(text)[-_DISPATCH_CHARS:],
                            }
                    elif chunk.kind == "marker" or chunk.text.strip() == FILES_INCOMING:
                        files_incoming = True
            error = agent_failure("".join(text))
            state["state"], state["error"] = ("failed", error) if error else ("done", None)
            if files_incoming and client.artifacts_dir is not None:
                from agentfm_nb.client.artifacts import aharvest

                paths = await aharvest(Path(client.artifacts_dir), task_id, 30.0)
                self._files_root = Path(client.artifacts_dir) / task_id
                self._files = paths
                state["artifacts"] = artifact_cards(paths, root=self._files_root)
        except asyncio.CancelledError:
            state["state"] = "stopped"
            raise
        except AgentFMError as exc:
            state["state"], state["error"] = "failed", exc.message[:500]
        finally:
            state["text"] = "".join(text)[-_DISPATCH_CHARS:]
            state["duration_s"] = round(time.monotonic() - started, 3)
            self.dispatch_state = state
            self._refresh_tasks()
            self._stamp()
            publish_later(self)

    def _on_dispatch(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            self.dispatch(str(content.get("prompt", "")))

    def _on_stop_dispatch(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        task = self._dispatch_task
        if task is not None and not task.done():
            self._loop().call_soon_threadsafe(task.cancel)

    def _on_artifact(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        answer = read_artifact(self._files, str(content.get("key", "")), root=self._files_root)
        if answer is not None:
            msg, data = answer
            self._emit(msg, [data])

    def _before_publish(self) -> None:
        self._refresh_tasks()

    # --- fallbacks ----------------------------------------------------------------------------
    def _fallback_text(self) -> str:
        w = self.worker
        name = w.get("name") or self._query
        if not w.get("status"):
            return f"WorkerInspector: {name} ({self.state})"
        return (
            f"WorkerInspector: {name} ({w.get('engine', '?')}) {w.get('status')}, "
            f"cpu {w.get('cpu_usage_pct', 0):.0f}%, "
            f"{w.get('current_tasks', 0)}/{w.get('max_tasks', 0)} tasks, "
            f"honesty {w.get('honesty_score', 0):.2f}"
        )

    def _fallback_html(self) -> str:
        keys = ("description", "engine", "author", "hardware", "peer_id", "agent_image_digest")
        rows = "".join(
            f"<tr><th>{k}</th><td>{html.escape(str(self.worker[k]))}</td></tr>"
            for k in keys
            if self.worker.get(k)
        )
        return f"<div><b>{html.escape(self._fallback_text())}</b><table>{rows}</table></div>"


__all__ = ["WorkerInspector"]
