"""``WorkerTable``: the live mesh radar (front end: ``js/widgets/worker_table.ts``)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import traitlets as t

from agentfm_nb.client._shared import match_model
from agentfm_nb.errors import AgentFMError
from agentfm_nb.widgets._base import BaseWidget, make_async_client, safe_url
from agentfm_nb.widgets._columnar import Array, ColumnDiffer

_STATUS = {"AVAILABLE": 0, "BUSY": 1}
_OFFLINE = 2
_SNAPSHOT_EVERY_S = 10.0  # the saved-state snapshot trait; live rows travel as diffs
_FALLBACK_ROWS = 50


def _epoch(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def worker_columns(
    workers: Sequence[Any], slots: dict[str, int]
) -> tuple[dict[str, Array], dict[str, list[str]]]:
    """Columns of the table; ``slots`` maps peer id -> row and grows with new peers (rows of
    peers that left stay, marked not present, so row numbers never move under the browser)."""
    for w in workers:
        slots.setdefault(str(w.peer_id), len(slots))
    n = len(slots)
    by_row: list[Any] = [None] * n
    for w in workers:
        by_row[slots[str(w.peer_id)]] = w
    peers = [""] * n
    for pid, row in slots.items():
        peers[row] = pid

    def num(get: Any, dtype: str, missing: float = 0.0) -> Array:
        return np.fromiter((missing if w is None else get(w) for w in by_row), dtype=dtype, count=n)

    cols: dict[str, Array] = {
        "present": num(lambda w: 1, "<u1"),
        "status": num(
            lambda w: _STATUS.get(str(w.status).upper(), 1) if w.online else _OFFLINE,
            "<u1",
            _OFFLINE,
        ),
        "cur": num(lambda w: min(int(w.current_tasks), 65535), "<u2"),
        "max": num(lambda w: min(int(w.max_tasks), 65535), "<u2"),
        "load": num(lambda w: w.current_tasks / w.max_tasks if w.max_tasks else 1.0, "<f4"),
        "cpu": num(lambda w: w.cpu_usage_pct, "<f4"),
        "ram": num(lambda w: w.ram_free_gb, "<f4"),
        "has_gpu": num(lambda w: 1 if w.has_gpu else 0, "<u1"),
        "gpu_used": num(lambda w: w.gpu_used_gb, "<f4"),
        "gpu_total": num(lambda w: w.gpu_total_gb, "<f4"),
        "gpu_pct": num(lambda w: w.gpu_usage_pct, "<f4"),
        "honesty": num(lambda w: w.honesty_score, "<f4"),
        "last_seen": num(lambda w: _epoch(w.last_seen), "<f8"),
    }
    strings: dict[str, list[str]] = {"peer_id": peers}
    for key in ("name", "engine", "author", "hardware"):
        strings[key] = ["" if w is None else str(getattr(w, key)) for w in by_row]
    return cols, strings


class WorkerTable(BaseWidget):
    """Workers of the mesh, live: sort, filter, select rows (``.selected`` = peer ids)."""

    _bundle = "worker_table"

    _snapshot = t.Dict().tag(sync=True)
    summary = t.Dict().tag(sync=True)
    selected = t.List(t.Unicode()).tag(sync=True)
    available_only = t.Bool(False).tag(sync=True)

    def __init__(
        self,
        client: Any = None,
        *,
        live: bool = True,
        interval: float = 1.0,
        model: str | None = None,
        available_only: bool = False,
    ) -> None:
        super().__init__(available_only=available_only)
        self._client = client
        self._interval = min(max(float(interval), 0.5), 2.0)
        self._model_filter = model
        self._slots: dict[str, int] = {}
        self._differ = ColumnDiffer()
        self._cols: dict[str, Array] = {}
        self._strings: dict[str, list[str]] = {}
        self.workers: list[Any] = []
        self._last_snapshot = 0.0
        self.stats = {"refreshes": 0, "diffs": 0, "diff_bytes": 0}
        self.summary = {
            "state": "connecting",
            "online": 0,
            "offline": 0,
            "slots": 0,
            "busy_slots": 0,
            "gateway_url": "",
        }
        if live:
            self._submit(self._run())
        else:
            self._submit(self._once())

    # --- public -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop live updates (the table keeps its last rows)."""
        self._cancel_all()
        with self._lock:
            self.summary = {**self.summary, "state": "stopped"}
            self._publish_snapshot()
        self.refresh_display()

    def refresh(self, timeout: float = 30.0) -> None:
        """Re-list now and wait for it (useful in scripts)."""
        self._submit(self._once()).result(timeout)

    def to_dataframe(self) -> Any:
        from agentfm_nb.scatter.frames import workers_to_dataframe

        return workers_to_dataframe(self.workers)

    # --- background ---------------------------------------------------------------------------
    async def _list(self, client: Any) -> list[Any]:
        # The gateway's routing tiers (peer id, agent name, engine), so model="Poet" works.
        # Offline workers too: the table shows and counts them (the gateway's include_offline).
        workers = await client.workers.list(include_offline=True)
        return workers if self._model_filter is None else match_model(workers, self._model_filter)

    async def _once(self) -> None:
        client = make_async_client(self._client)
        self._apply(await self._list(client), client.gateway_url)

    async def _run(self) -> None:
        client = make_async_client(self._client)
        url = safe_url(client.gateway_url)
        wake = asyncio.Event()
        watcher = asyncio.create_task(self._watch_events(client, wake))
        backoff = 0.0
        try:
            while True:
                try:
                    workers = await self._list(client)
                    self._apply(workers, client.gateway_url)
                    backoff = 0.0
                    delay = self._interval
                except AgentFMError as exc:
                    backoff = min(backoff * 2 or 0.5, 10.0)
                    delay = backoff
                    before = self._headline()
                    self.summary = {
                        **self.summary,
                        "state": "unreachable",
                        "error": exc.message[:200],
                        "retry_in": delay,
                        "gateway_url": url,
                    }
                    if self._headline() != before:
                        self.refresh_display()
                wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)
                # Bursts of events (a scatter) coalesce into one re-list.
                await asyncio.sleep(0.1)
        finally:
            watcher.cancel()

    async def _watch_events(self, client: Any, wake: asyncio.Event) -> None:
        while True:
            try:
                async for _event in client.events.stream():
                    wake.set()
            except AgentFMError:
                pass
            await asyncio.sleep(2.0)

    def _apply(self, workers: Sequence[Any], gateway_url: str) -> None:
        with self._lock:
            before = self._headline()
            self.workers = list(workers)
            self._cols, self._strings = worker_columns(self.workers, self._slots)
            online = [w for w in self.workers if w.online]
            self.stats["refreshes"] += 1
            payload = self._differ.diff(self._cols, self._strings)
            if payload is not None:
                content, buffers = payload
                self.stats["diffs"] += 1
                from agentfm_nb.widgets._columnar import payload_bytes

                self.stats["diff_bytes"] += payload_bytes(content, buffers)
                self._emit(content, buffers)
            self.summary = {
                "state": "live",
                "online": len(online),
                "offline": len(self.workers) - len(online),
                "total": len(self.workers),
                "slots": sum(int(w.max_tasks) for w in online),
                "busy_slots": sum(min(int(w.current_tasks), int(w.max_tasks)) for w in online),
                "gateway_url": safe_url(gateway_url),
            }
            now = time.monotonic()
            if now - self._last_snapshot >= _SNAPSHOT_EVERY_S:
                self._publish_snapshot()
        if self._headline() != before:
            self.refresh_display()  # first listing, workers joining or leaving

    def _headline(self) -> tuple[Any, ...]:
        s = self.summary
        return (s.get("state"), s.get("online"), s.get("total"))

    def _before_publish(self) -> None:
        if self._differ.seq >= 0:  # every listing was diffed, so the baseline is current
            self._publish_snapshot()

    def _publish_snapshot(self) -> None:
        content, _ = self._differ.snapshot(self._cols, self._strings, inline=True)
        with self.hold_sync():
            self._snapshot = content
            self._stamp()
        self._last_snapshot = time.monotonic()

    def _on_resync(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with self._lock:
            if self._differ.seq < 0:
                return
            msg, bufs = self._differ.snapshot(self._cols, self._strings, inline=False)
            self._emit(msg, bufs)

    # --- fallbacks ----------------------------------------------------------------------------
    def _fallback_text(self) -> str:
        s = self.summary
        busy = f"{s.get('busy_slots', 0)}/{s.get('slots', 0)}"
        where = f"({s.get('state', '?')}) at {s.get('gateway_url', '')}"
        offline = f", {s.get('offline', 0)} offline" if s.get("offline") else ""
        return f"WorkerTable: {s.get('online', 0)} online{offline}, {busy} slots busy {where}"

    def _fallback_html(self) -> str:
        rows = []
        for w in self.workers[:_FALLBACK_ROWS]:
            cells = (
                w.name,
                w.engine,
                w.author,
                w.status,
                f"{w.current_tasks}/{w.max_tasks}",
                f"{w.cpu_usage_pct:.0f}%",
                f"{w.honesty_score:.2f}",
                str(w.peer_id),
            )
            rows.append(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
            )
        more = len(self.workers) - _FALLBACK_ROWS
        head = "".join(
            f"<th>{h}</th>"
            for h in ("name", "engine", "author", "status", "load", "cpu", "honesty", "peer id")
        )
        tail = f"<p>… and {more} more</p>" if more > 0 else ""
        return (
            f"<div><b>{html.escape(self._fallback_text())}</b><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{tail}</div>"
        )


__all__ = ["WorkerTable", "worker_columns"]
