"""``ScatterGrid``: a live grid of a scatter over the mesh (``js/widgets/scatter_grid.ts``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets as t

from agentfm_nb.client._shared import match_model
from agentfm_nb.errors import AgentFMError, ModelNotFoundError
from agentfm_nb.widgets._base import BaseWidget, make_async_client
from agentfm_nb.widgets._columnar import Array, ColumnDiffer, payload_bytes
from agentfm_nb.widgets.artifacts import artifact_cards, read_artifact

STATES = ("queued", "running", "retrying", "done", "failed", "cancelled")
_CODE = {s: i for i, s in enumerate(STATES)}
_FINAL = (_CODE["done"], _CODE["failed"], _CODE["cancelled"])
_FLUSH_S = 0.1  # at most ~10 updates a second to the browser, whatever the number of prompts
_SNAPSHOT_EVERY_S = 2.0
_DETAIL_CHARS = 20_000
# What a saved page keeps so a click on a cell still shows something with no kernel.
# Bounded so a big scatter keeps a notebook small (at most ~1 MB of saved detail).
_SAVED_CELLS = 1_000
_SAVED_CHARS = 500


class RateMeter:
    """tqdm-like smoothed rate: an EMA of the per-interval completion rate."""

    def __init__(self, smoothing: float = 0.3) -> None:
        self.smoothing = smoothing
        self.rate: float | None = None
        self._last: tuple[int, float] | None = None

    def update(self, n: int, at: float) -> float | None:
        if self._last is None:
            self._last = (n, at)
            return self.rate
        dn, dt = n - self._last[0], at - self._last[1]
        if dn > 0 and dt > 0:
            inst = dn / dt
            self.rate = (
                inst
                if self.rate is None
                else self.smoothing * inst + (1 - self.smoothing) * self.rate
            )
            self._last = (n, at)
        return self.rate


class ScatterGrid(BaseWidget):
    """One cell per prompt; ``.start()`` runs the scatter in the background."""

    _bundle = "scatter_grid"

    _cells = t.Dict().tag(sync=True)
    progress = t.Dict().tag(sync=True)
    workers = t.List(t.Dict()).tag(sync=True)
    _details = t.Dict().tag(sync=True)  # index -> short detail, saved when a run ends

    def __init__(
        self,
        prompts: Sequence[str],
        *,
        client: Any = None,
        peer_ids: Sequence[str] | None = None,
        model: str | None = None,
        max_concurrency: int | None = None,
        max_retries: int = 2,
        task_timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.prompts = [str(p) for p in prompts]
        self._client = client
        self._peer_ids = [str(p) for p in peer_ids] if peer_ids else None
        self._model_filter = model
        self._max_concurrency = max_concurrency
        self._max_retries = max_retries
        self._task_timeout = task_timeout
        n = len(self.prompts)
        self._state: Array = np.zeros(n, dtype="<u1")
        self._worker: Array = np.zeros(n, dtype="<u2")
        self._attempt: Array = np.zeros(n, dtype="<u1")
        self._results: list[Any] = [None] * n
        self._peer_code: dict[str, int] = {}
        self._differ = ColumnDiffer()
        self._dirty = False
        self._started_at: float | None = None
        self._ended_at: float | None = None
        self._meter = RateMeter()
        self._future: concurrent.futures.Future[Any] | None = None
        self._finished = threading.Event()  # set when a run's cleanup is complete
        self._finished.set()
        self._error: str | None = None
        self._run_state = "idle"
        self._run_indices: list[int] = []  # the prompts of the current run (all, or a retry's)
        self._last_snapshot = 0.0
        self.stats = {"messages": 0, "bytes": 0, "events": 0}
        self._publish_snapshot()
        self.progress = self._progress()

    # --- public -------------------------------------------------------------------------------
    def start(self) -> ScatterGrid:
        """Run the scatter in the background (returns at once; idempotent while running)."""
        if self._future is None or self._future.done():
            self._run_state = "running"
            self._finished.clear()
            self._future = self._submit(self._run(range(len(self.prompts))))
        return self

    def result(self, timeout: float | None = None) -> Any:
        """Block until the scatter ends; the rows as ``ScatterResults`` (input order)."""
        if self._future is None:
            self.start()
        assert self._future is not None
        with contextlib.suppress(concurrent.futures.CancelledError):
            self._future.result(timeout)
        # A cancelled future returns at once; the run's cleanup (cells -> cancelled) follows.
        self._finished.wait(timeout)
        self.publish()
        return self.results

    def stop(self) -> None:
        """Cancel the scatter: in-flight tasks are closed (the gateway stops their agents)."""
        if self._future is not None:
            self._future.cancel()

    def retry_failed(self) -> ScatterGrid:
        """Run the failed and cancelled prompts again, keeping the successes."""
        if self._future is not None and not self._future.done():
            raise RuntimeError("the scatter is still running")
        again = [i for i, s in enumerate(self._state) if s in (_CODE["failed"], _CODE["cancelled"])]
        if again:
            self._run_state = "running"
            self._finished.clear()
            self._future = self._submit(self._run(again))
        return self

    @property
    def results(self) -> Any:
        from agentfm_nb.scatter import ScatterResult
        from agentfm_nb.scatter.results import ScatterResults

        rows = []
        for i, r in enumerate(self._results):
            if r is None:
                r = ScatterResult(prompt=self.prompts[i], status="cancelled", index=i)
            rows.append(r)
        return ScatterResults(rows)

    @property
    def dataframe(self) -> Any:
        """Rows so far (live while running, final when done)."""
        import pandas as pd

        records = []
        for i, prompt in enumerate(self.prompts):
            r = self._results[i]
            state = STATES[int(self._state[i])]
            records.append(
                {
                    "prompt": prompt,
                    "status": r.status if r is not None else state,
                    "text": r.text if r is not None else "",
                    "worker_id": (r.worker_id if r is not None else None) or self._peer_of(i),
                    "error": r.error if r is not None else None,
                    "attempts": r.attempts if r is not None else int(self._attempt[i]),
                    "latency_s": r.latency_s if r is not None else float("nan"),
                    "artifacts": [str(p) for p in r.artifacts] if r is not None else [],
                }
            )
        return pd.DataFrame.from_records(
            records,
            columns=[
                "prompt",
                "status",
                "text",
                "worker_id",
                "error",
                "attempts",
                "latency_s",
                "artifacts",
            ],
        )

    # --- background ---------------------------------------------------------------------------
    async def _run(self, indices: Sequence[int]) -> None:
        indices = list(indices)
        self._run_indices = indices
        for i in indices:
            self._state[i], self._attempt[i], self._results[i] = _CODE["queued"], 0, None
        self._dirty = True
        self._started_at = time.monotonic()
        self._ended_at = None
        self._meter = RateMeter()
        flusher = asyncio.create_task(self._flush_loop())
        try:
            client = make_async_client(self._client)
            peers = self._peer_ids
            if not peers:
                found = match_model(await client.workers.list(), self._model_filter)
                peers = [str(w.peer_id) for w in found]
                names = {str(w.peer_id): w.name for w in found}
            else:
                names = {}
                with contextlib.suppress(AgentFMError):  # names only label the grid's legend
                    names = {str(w.peer_id): w.name for w in await client.workers.list()}
            if not peers:
                what = f"model {self._model_filter!r}" if self._model_filter else "the mesh"
                raise ModelNotFoundError(
                    f"no online worker serves {what} (peer id, agent name or engine)",
                    code="model_not_found",
                )
            self.workers = [{"peer_id": p, "name": names.get(p, "")} for p in peers]
            self._peer_code = {p: i + 1 for i, p in enumerate(peers)}

            def on_event(ev: Any) -> None:
                i = indices[ev.index]
                self._state[i] = _CODE.get(ev.state, 0)
                self._attempt[i] = min(int(ev.attempt), 255)
                if ev.peer_id:
                    self._worker[i] = self._peer_code.get(ev.peer_id, 0)
                self.stats["events"] += 1
                self._dirty = True

            async for k, row in client.tasks.scatter_iter(
                [self.prompts[i] for i in indices],
                peer_ids=peers,
                max_concurrency=self._max_concurrency,
                max_retries=self._max_retries,
                task_timeout=self._task_timeout,
                on_event=on_event,
            ):
                i = indices[k]
                row.index = i
                self._results[i] = row
                self._state[i] = (
                    _CODE["done"]
                    if row.status == "success"
                    else _CODE["cancelled" if row.status == "cancelled" else "failed"]
                )
                if row.worker_id:
                    self._worker[i] = self._peer_code.get(str(row.worker_id), 0)
                self._dirty = True
            self._run_state = "done"
        except asyncio.CancelledError:
            self._run_state = "cancelled"
            raise
        except AgentFMError as exc:
            self._run_state = "failed"
            self._error = exc.message
        finally:
            for i in indices:
                if self._state[i] not in _FINAL:
                    self._state[i] = _CODE["cancelled"]
            self._ended_at = time.monotonic()
            flusher.cancel()
            self._details = self._saved_details()
            self._flush(final=True)
            self._finished.set()
            self.refresh_display()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_S)
            self._flush()

    def _columns(self) -> dict[str, Array]:
        return {"state": self._state, "worker": self._worker, "attempt": self._attempt}

    def _flush(self, *, final: bool = False) -> None:
        with self._lock:
            if not self._dirty and not final:
                return
            self._dirty = False
            progress = self._progress()
            payload = self._differ.diff(self._columns(), {})
            if payload is not None:
                content, buffers = payload
                content["progress"] = progress
                self._emit(content, buffers)
                self.stats["messages"] += 1
                self.stats["bytes"] += payload_bytes(content, buffers)
            now = time.monotonic()
            if final or now - self._last_snapshot >= _SNAPSHOT_EVERY_S:
                self.progress = progress
                self._publish_snapshot()
                self._stamp()

    def _before_publish(self) -> None:
        self._flush(final=True)

    def _publish_snapshot(self) -> None:
        content, _ = self._differ.snapshot(self._columns(), {}, inline=True)
        self._cells = content
        self._last_snapshot = time.monotonic()

    def _progress(self) -> dict[str, Any]:
        counts = np.bincount(self._state, minlength=len(STATES))
        # rate and ETA count only this run's prompts: a Retry failed must not count old successes
        run = self._run_indices if self._run_indices else range(len(self.prompts))
        run_states = self._state[np.asarray(run, dtype=np.intp)] if len(run) else self._state[:0]
        run_finished = int(np.isin(run_states, _FINAL).sum())
        start = self._started_at
        now = self._ended_at or time.monotonic()
        elapsed = (now - start) if start is not None else 0.0
        rate = self._meter.update(run_finished, elapsed) if start is not None else None
        remaining = len(run) - run_finished
        eta = remaining / rate if rate and self._run_state == "running" else None
        return {
            "total": len(self.prompts),
            "queued": int(counts[0]),
            "running": int(counts[1] + counts[2]),
            "done": int(counts[3]),
            "failed": int(counts[4]),
            "cancelled": int(counts[5]),
            "elapsed": round(elapsed, 3),
            "rate": rate,
            "eta": eta,
            "state": self._run_state,
            "error": self._error,
            "run_total": len(run),
            "run_finished": run_finished,
        }

    def _agent_of(self, peer: str | None) -> str | None:
        return next((w["name"] or None for w in self.workers if w["peer_id"] == peer), None)

    def _detail(self, i: int, chars: int) -> dict[str, Any]:
        r = self._results[i]
        peer = str(r.worker_id) if r is not None and r.worker_id else self._peer_of(i)
        out: dict[str, Any] = {
            "prompt": self.prompts[i][:chars],
            "state": STATES[int(self._state[i])],
            "text": (r.text if r is not None else "")[:chars],
            "error": r.error if r is not None else None,
            "worker_id": peer,
            "agent": self._agent_of(peer),
            "attempts": r.attempts if r is not None else int(self._attempt[i]),
            "latency_s": r.latency_s if r is not None else None,
        }
        if r is not None and r.artifacts:
            out["artifacts"] = artifact_cards(r.artifacts, inline_total=0)
        return out

    def _saved_details(self) -> dict[str, Any]:
        return {
            str(i): self._detail(i, _SAVED_CHARS)
            for i in range(min(_SAVED_CELLS, len(self.prompts)))
        }

    def _peer_of(self, i: int) -> str | None:
        code = int(self._worker[i])
        return self.workers[code - 1]["peer_id"] if 0 < code <= len(self.workers) else None

    # --- messages -----------------------------------------------------------------------------
    def _on_resync(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with self._lock:
            msg, bufs = self._differ.snapshot(self._columns(), {}, inline=False)
            msg["progress"] = self._progress()
            self._emit(msg, bufs)

    def _on_detail(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        try:
            i = int(content.get("index", -1))
        except (TypeError, ValueError):
            return
        if not 0 <= i < len(self.prompts):
            return
        self._emit({"kind": "detail", "index": i, **self._detail(i, _DETAIL_CHARS)})

    def _on_artifact(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        # Only files of this grid's rows can be read: the key must name one of them.
        key = str(content.get("key", ""))
        for r in self._results:
            if r is not None and r.artifacts:
                found = read_artifact(r.artifacts, key)
                if found is not None:
                    self._emit(found[0], [found[1]])
                    return

    def _on_stop(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.stop()

    def _on_retry_failed(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with contextlib.suppress(RuntimeError):
            self.retry_failed()

    # --- fallbacks ----------------------------------------------------------------------------
    def _fallback_text(self) -> str:
        p = self._progress()
        done = p["done"] + p["failed"] + p["cancelled"]
        return (
            f"ScatterGrid: {done}/{p['total']} finished ({p['done']} done, {p['failed']} failed,"
            f" {p['cancelled']} cancelled) · {p['state']} · {p['elapsed']:.1f}s"
        )

    def _fallback_html(self) -> str:
        colors = ["#d4d4d8", "#60a5fa", "#f59e0b", "#22c55e", "#ef4444", "#71717a"]
        shown = self._state[:2000]
        cells = "".join(
            f'<span title="#{i} {STATES[int(s)]}" style="display:inline-block;width:9px;height:9px;'
            f'margin:1px;background:{colors[int(s)]}"></span>'
            for i, s in enumerate(shown)
        )
        return f"<div><b>{html.escape(self._fallback_text())}</b><div>{cells}</div></div>"


__all__ = ["STATES", "ScatterGrid"]
