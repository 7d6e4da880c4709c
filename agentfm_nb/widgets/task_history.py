"""``TaskHistory``: every task this kernel dispatched, live (``js/widgets/task_history.ts``).

Rows come from the kernel's task journal (``agentfm_nb.journal``). Live changes travel as small
``rows`` messages keyed by ``seq`` (a 10,000-prompt scatter must not resend the whole table);
the ``_rows`` trait holds the full list for saved notebooks and late browsers, refreshed at most
every few seconds and whenever a cell publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from datetime import datetime, timezone
from typing import Any

import traitlets as t

from agentfm_nb.journal import TaskJournal, TaskRecord, journal, records_dataframe
from agentfm_nb.widgets._base import BaseWidget, _pending, make_async_client
from agentfm_nb.widgets.artifacts import artifact_cards, read_artifact

_FLUSH_S = 0.25  # live rows reach the browser at most 4 times a second
_SNAPSHOT_EVERY_S = 5.0
_PROMPT_CHARS = 400
_ERROR_CHARS = 300
_ARTIFACT_WAIT_S = 120.0  # files are extracted after the stream ends; look for them this long
_FALLBACK_ROWS = 50


def publish_later(widget: BaseWidget) -> None:
    """Have the next cell's end publish ``widget`` (state and fallbacks), from any thread.

    Not ``refresh_display``: in JupyterLab an ``update_display_data`` re-creates the widget's
    view, which would close an open detail and drop focus on every live change.
    """
    if widget._displayed:
        _pending.add(widget)


def task_row(record: TaskRecord, cards: list[Any] | None = None) -> dict[str, Any]:
    """What the browser shows of one task (prompt and error trimmed; no local paths)."""
    return {
        "seq": record.seq,
        "task_id": record.task_id,
        "prompt": record.prompt[:_PROMPT_CHARS],
        "agent": record.agent,
        "peer_id": record.peer_id,
        "status": record.status,
        "started_at": round(record.started_at, 3),
        "duration_s": record.duration_s,
        "error": (record.error or "")[:_ERROR_CHARS] or None,
        "artifacts": cards or [],
    }


class TaskHistory(BaseWidget):
    """Tasks this kernel dispatched: filter by text, status and agent; ``.dataframe``."""

    _bundle = "task_history"

    _rows = t.List(t.Dict()).tag(sync=True)
    title = t.Unicode("Task history").tag(sync=True)
    # The browser's filters, so ``filtered_dataframe`` shows what the user sees.
    query = t.Unicode("").tag(sync=True)
    status_filter = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        client: Any = None,
        *,
        peer_id: str | None = None,
        limit: int = 1_000,
        source: TaskJournal | None = None,
    ) -> None:
        super().__init__()
        self._client = client
        self._peer = None if peer_id is None else str(peer_id)
        self._limit = max(1, int(limit))
        self._journal = source or journal
        self._rows_by_seq: dict[int, dict[str, Any]] = {}
        self._records: dict[int, TaskRecord] = {}
        self._dirty: set[int] = set()
        self._waiting_files: dict[int, float] = {}  # seq -> give-up time
        self._wake: asyncio.Event | None = None  # created on the portal loop by _pump
        self._last_snapshot = 0.0
        self.stats = {"messages": 0, "rows_sent": 0}
        for record in self._journal.records(peer_id=self._peer):
            self._take(record)
        self._publish_rows()
        self._unsubscribe = self._journal.subscribe(self._heard)
        self._submit(self._pump())

    # --- public -------------------------------------------------------------------------------
    @property
    def records(self) -> list[TaskRecord]:
        with self._lock:
            return [self._records[s] for s in sorted(self._records)]

    @property
    def dataframe(self) -> Any:
        """Every task in this history (newest last) as a pandas DataFrame."""
        return records_dataframe(self.records)

    @property
    def filtered_dataframe(self) -> Any:
        """The rows the browser's filters (text and status) leave visible."""
        q = self.query.strip().lower()
        status = self.status_filter
        keep = [
            r
            for r in self.records
            if (not status or r.status == status)
            and (not q or q in f"{r.prompt}\n{r.agent}\n{r.peer_id}\n{r.task_id}".lower())
        ]
        return records_dataframe(keep)

    def close(self) -> None:
        self._unsubscribe()
        self._cancel_all()
        super().close()

    # --- journal → rows -------------------------------------------------------------------------
    def _heard(self, record: TaskRecord) -> None:
        if self._peer is not None and record.peer_id != self._peer:
            return
        with self._lock:
            self._take(record)
            wake = self._wake
        if wake is not None:
            self._loop().call_soon_threadsafe(wake.set)

    def _take(self, record: TaskRecord) -> None:
        self._records[record.seq] = record
        if record.files_incoming and record.status == "done":
            self._waiting_files.setdefault(record.seq, time.monotonic() + _ARTIFACT_WAIT_S)
        self._rows_by_seq[record.seq] = task_row(record)
        self._dirty.add(record.seq)
        while len(self._records) > self._limit:
            oldest = min(self._records)
            self._records.pop(oldest)
            self._rows_by_seq.pop(oldest, None)
            self._dirty.discard(oldest)
            self._waiting_files.pop(oldest, None)

    def _look_for_files(self) -> None:
        now = time.monotonic()
        for seq, give_up in list(self._waiting_files.items()):
            record = self._records.get(seq)
            files = record.artifacts() if record is not None else []
            if record is None or files or now > give_up:
                self._waiting_files.pop(seq, None)
            if record is not None and files:
                self._rows_by_seq[seq] = task_row(record, list(artifact_cards(files)))
                self._dirty.add(seq)

    def _name_rows(self) -> bool:
        """Copy agent names the journal learned since into rows; True when some still lack one."""
        missing = False
        for seq, row in self._rows_by_seq.items():
            if row["agent"]:
                continue
            record = self._records[seq]
            if record.agent:
                row["agent"] = record.agent
                self._dirty.add(seq)
            else:
                missing = True
        return missing

    async def _learn_names(self) -> None:
        # The journal knows agent names only from listings; ask when a row still lacks one.
        with contextlib.suppress(Exception):
            client = make_async_client(self._client)
            self._journal.learn_names(await client.workers.list())

    async def _pump(self) -> None:
        named_at = 0.0
        wake = self._wake = asyncio.Event()
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), _FLUSH_S * 4)
            wake.clear()
            now = time.monotonic()
            with self._lock:
                missing = self._name_rows()
            if missing and now - named_at > 5.0:
                named_at = now
                await self._learn_names()
            with self._lock:
                self._name_rows()
                if self._waiting_files:
                    self._look_for_files()
                self._flush()
                if self._dirty or now - self._last_snapshot >= _SNAPSHOT_EVERY_S:
                    self._publish_rows()
            await asyncio.sleep(_FLUSH_S)

    def _flush(self) -> None:
        if not self._dirty:
            return
        rows = [self._rows_by_seq[s] for s in sorted(self._dirty) if s in self._rows_by_seq]
        self._dirty.clear()
        self._emit({"kind": "rows", "rows": rows, "keep": min(self._rows_by_seq, default=0)})
        self.stats["messages"] += 1
        self.stats["rows_sent"] += len(rows)
        if any(r["status"] != "running" for r in rows):
            publish_later(self)

    def _publish_rows(self) -> None:
        self._rows = [self._rows_by_seq[s] for s in sorted(self._rows_by_seq)]
        self._last_snapshot = time.monotonic()
        self._stamp()

    def _before_publish(self) -> None:
        self._look_for_files()
        self._publish_rows()

    # --- messages -----------------------------------------------------------------------------
    def _on_resync(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with self._lock:
            rows = [self._rows_by_seq[s] for s in sorted(self._rows_by_seq)]
        self._emit({"kind": "rows", "rows": rows, "keep": min(self._rows_by_seq, default=0)})

    def _on_artifact(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        # key: "<seq>:<file key>", so one fetcher serves every row's cards
        seq_text, _, key = str(content.get("key", "")).partition(":")
        try:
            record = self._records.get(int(seq_text))
        except ValueError:
            return
        if record is None:
            return
        answer = read_artifact(record.artifacts(), key, root=record.artifact_folder)
        if answer is not None:
            msg, data = answer
            self._emit({**msg, "key": f"{seq_text}:{key}"}, [data])

    # --- fallbacks ----------------------------------------------------------------------------
    def _fallback_text(self) -> str:
        counts: dict[str, int] = {}
        for r in self._rows_by_seq.values():
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no tasks yet"
        return f"TaskHistory: {len(self._rows_by_seq)} tasks ({summary})"

    def _fallback_html(self) -> str:
        rows = list(self._rows_by_seq.values())[-_FALLBACK_ROWS:]
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    _clock(r["started_at"]),
                    r["agent"] or r["peer_id"][:12],
                    r["status"],
                    "" if r["duration_s"] is None else f"{r['duration_s']:.2f}s",
                    r["prompt"][:80],
                    ", ".join(a["name"] for a in r["artifacts"]),
                )
            )
            + "</tr>"
            for r in rows
        )
        head = "".join(
            f"<th>{c}</th>" for c in ("started", "agent", "status", "duration", "prompt", "files")
        )
        return (
            f"<div><b>{html.escape(self._fallback_text())}</b><table><thead><tr>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table></div>"
        )


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%H:%M:%S UTC")


__all__ = ["TaskHistory", "publish_later", "task_row"]
