"""Pure helpers shared by the sync and async clients (no I/O here)."""

from __future__ import annotations

import codecs
import os
import random
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from agentfm_nb.client.models import PeerID, TaskChunk, WorkerProfile
from agentfm_nb.errors import InvalidRequestError
from agentfm_nb.wire import ERROR_PREFIX, FILES_INCOMING, MARKER_PREFIX

DEFAULT_GATEWAY = "http://127.0.0.1:8080"
_MARKER_B = MARKER_PREFIX.encode()
_PEER_ID_RE = re.compile(r"^12D3KooW[1-9A-HJ-NP-Za-km-z]{30,60}$")


class _Unset:
    """Marks an argument the caller did not pass (distinct from an explicit ``None``)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET = _Unset()


def resolve_api_key(api_key: str | _Unset | None) -> str | None:
    """Omitted → ``AGENTFM_API_KEY``; explicit ``None`` (or empty) → no auth."""
    if isinstance(api_key, _Unset):
        return os.environ.get("AGENTFM_API_KEY") or None
    return api_key or None


def normalize_gateway_url(url: str) -> str:
    url = str(url).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InvalidRequestError(f"gateway_url must start with http:// or https://, got {url!r}")
    return url


def is_peer_id(text: str) -> bool:
    return bool(_PEER_ID_RE.match(text))


def new_task_id() -> str:
    return f"task_{uuid.uuid4().hex}"


def execute_payload(worker_id: str, prompt: str, task_id: str | None) -> dict[str, Any]:
    worker_id = str(worker_id)
    if not worker_id:
        raise InvalidRequestError("worker_id is required", code="invalid_request_error")
    if not isinstance(prompt, str):
        raise InvalidRequestError("prompt must be a string", code="invalid_request_error")
    payload: dict[str, Any] = {"worker_id": worker_id, "prompt": prompt}
    if task_id is not None:
        payload["task_id"] = task_id
    return payload


def filter_workers(
    workers: Iterable[WorkerProfile],
    *,
    model: str | None = None,
    agent_name: str | None = None,
    author: str | None = None,
    available_only: bool = False,
) -> list[WorkerProfile]:
    """Case-insensitive equality filters, applied after the fetch."""
    m = model.lower() if model else None
    n = agent_name.lower() if agent_name else None
    a = author.lower() if author else None
    out = []
    for w in workers:
        if m is not None and w.model.lower() != m:
            continue
        if n is not None and w.name.lower() != n:
            continue
        if a is not None and w.author.lower() != a:
            continue
        if available_only and not w.is_available:
            continue
        out.append(w)
    return out


def match_model(workers: Iterable[WorkerProfile], model: str | None) -> list[WorkerProfile]:
    """The online workers the gateway would route ``model`` to, in listing order.

    The gateway's rule: the first non-empty tier of exact peer id, agent name, engine (names
    and engines case-insensitive). ``model=None`` matches every online worker.
    """
    online = [w for w in workers if w.online]
    if model is not None:
        key = model.strip().lower()
        tiers = (
            [w for w in online if w.peer_id == model],
            [w for w in online if w.name.lower() == key],
            [w for w in online if w.model.lower() == key],
        )
        online = next((tier for tier in tiers if tier), [])
    return online


def pick_least_loaded(workers: Iterable[WorkerProfile]) -> WorkerProfile | None:
    """The least loaded worker that still has a free slot (``None`` when all are full)."""
    free = [w for w in workers if w.max_tasks <= 0 or w.current_tasks < w.max_tasks]
    return min(free, key=_load_key, default=None)


def _load_key(worker: WorkerProfile) -> tuple[bool, float]:
    return (not worker.is_available, worker.load_ratio)


def coerce_peer_ids(peer_ids: Sequence[PeerID | str] | None) -> list[str]:
    if not peer_ids:
        raise InvalidRequestError("peer_ids must name at least one worker")
    ids = [str(p) for p in peer_ids]
    return list(dict.fromkeys(ids))


def backoff_delays(retries: int, *, base: float = 0.2, cap: float = 5.0) -> Iterator[float]:
    """Full-jitter exponential backoff: ``retries`` delays."""
    for attempt in range(max(0, retries)):
        yield random.uniform(0, min(cap, base * (2**attempt)))


class StreamSplitter:
    """Turns the raw bytes of ``/api/execute`` into ``TaskChunk`` objects.

    Fast path: one decode and one chunk per network read. Only a read that contains
    ``[AGENTFM:`` is split into lines. A trailing partial line is held back only while it could
    still become a sentinel, so ordinary partial output is never delayed.
    """

    __slots__ = ("_decoder", "_mid_line", "_pending", "markers")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = b""
        self._mid_line = False  # the start of the current line was already emitted
        self.markers: list[str] = []

    @property
    def files_incoming(self) -> bool:
        return FILES_INCOMING in self.markers

    @property
    def finished(self) -> bool:
        return bool(self.markers)

    def feed(self, data: bytes) -> list[TaskChunk]:
        if self._pending:
            data = self._pending + data
            self._pending = b""
        nl = data.rfind(b"\n")
        if nl == -1:
            complete, tail = b"", data
            tail_at_bol = not self._mid_line
        else:
            complete, tail = data[: nl + 1], data[nl + 1 :]
            tail_at_bol = True
        out: list[TaskChunk] = []
        if complete:
            if _MARKER_B in complete:
                self._split_markers(complete, out)
            else:
                text = self._decoder.decode(complete)
                if text:
                    out.append(TaskChunk(text))
            self._mid_line = False
        if tail:
            if tail_at_bol and (tail.startswith(_MARKER_B) or _MARKER_B.startswith(tail)):
                self._pending = tail
            else:
                text = self._decoder.decode(tail)
                if text:
                    out.append(TaskChunk(text))
                self._mid_line = True
        return out

    def _split_markers(self, complete: bytes, out: list[TaskChunk]) -> None:
        buf: list[bytes] = []
        lines = complete.split(b"\n")
        lines.pop()  # complete ends with "\n": the last piece is empty
        for i, line in enumerate(lines):
            if line.startswith(_MARKER_B) and not (i == 0 and self._mid_line):
                if buf:
                    out.append(TaskChunk(self._decoder.decode(b"".join(buf))))
                    buf = []
                marker = line.decode("utf-8", "replace").strip()
                self.markers.append(marker)
                out.append(TaskChunk(marker, "marker"))
            else:
                buf.append(line + b"\n")
        if buf:
            out.append(TaskChunk(self._decoder.decode(b"".join(buf))))

    def close(self) -> list[TaskChunk]:
        """Flush what is left at the end of the body."""
        out: list[TaskChunk] = []
        if self._pending:
            pending, self._pending = self._pending, b""
            if pending.startswith(_MARKER_B):
                marker = pending.decode("utf-8", "replace").strip()
                self.markers.append(marker)
                out.append(TaskChunk(marker, "marker"))
            else:
                text = self._decoder.decode(pending)
                if text:
                    out.append(TaskChunk(text))
        tail = self._decoder.decode(b"", True)
        if tail:
            out.append(TaskChunk(tail))
        return out


def agent_error(text: str) -> str | None:
    """The agent's failure message when the output's last line is the gateway's error line."""
    last = text.rstrip("\n").rpartition("\n")[2]
    return last[len(ERROR_PREFIX) :].strip() if last.startswith(ERROR_PREFIX) else None


def messages_payload(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Accept dicts or objects with ``role``/``content`` attributes."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, dict):
            out.append(dict(m))
        elif hasattr(m, "content"):
            out.append({"role": getattr(m, "role", "user"), "content": m.content})
        else:
            raise InvalidRequestError(f"cannot use {type(m).__name__} as a chat message")
    return out


__all__ = [
    "DEFAULT_GATEWAY",
    "UNSET",
    "StreamSplitter",
    "backoff_delays",
    "coerce_peer_ids",
    "execute_payload",
    "filter_workers",
    "is_peer_id",
    "match_model",
    "messages_payload",
    "new_task_id",
    "normalize_gateway_url",
    "pick_least_loaded",
    "resolve_api_key",
]
