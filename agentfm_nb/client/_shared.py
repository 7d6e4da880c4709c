"""Pure helpers shared by the sync and async clients (no I/O here)."""

from __future__ import annotations

import codecs
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from agentfm_nb.client.models import PeerID, TaskChunk, WorkerProfile
from agentfm_nb.errors import InvalidRequestError
from agentfm_nb.wire import FILES_INCOMING, MARKER_PREFIX

DEFAULT_GATEWAY = "http://127.0.0.1:8080"
_MARKER_B = MARKER_PREFIX.encode()
_FILES_B = FILES_INCOMING.encode()
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
    """Strip blanks and the trailing slash. A scheme other than http(s) is not refused here:
    as in the SDK the client constructs, and its first request raises ``InvalidRequestError``
    (``code="invalid_gateway_url"``)."""
    return str(url).strip().rstrip("/")


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


class StreamSplitter:
    """Turns the raw bytes of ``/api/execute`` into ``TaskChunk`` objects, as the SDK sees them.

    Sentinel lines (``[AGENTFM: ...]``, leading blanks allowed) never come out as text:
    ``NO_FILES`` is dropped and ``FILES_INCOMING`` becomes one ``TaskChunk(text="",
    kind="marker")`` at the very end (``close``). Unlike the SDK's line buffering, text is passed
    on per network read; only a trailing partial line that could still become a sentinel is held.
    """

    __slots__ = ("_decoder", "_mid_line", "_pending", "files_incoming", "finished")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = b""
        self._mid_line = False  # the start of the current line was already emitted
        self.files_incoming = False
        self.finished = False  # a sentinel was seen

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
                text = self._drop_sentinels(complete)
            else:
                text = self._decoder.decode(complete)
            if text:
                out.append(TaskChunk(text=text))
            self._mid_line = False
        if tail:
            if tail_at_bol and _maybe_sentinel(tail):
                self._pending = tail
            else:
                text = self._decoder.decode(tail)
                if text:
                    out.append(TaskChunk(text=text))
                self._mid_line = True
        return out

    def _drop_sentinels(self, complete: bytes) -> str:
        kept: list[bytes] = []
        lines = complete.split(b"\n")
        lines.pop()  # complete ends with "\n": the last piece is empty
        for i, line in enumerate(lines):
            if (i or not self._mid_line) and line.lstrip(b" \t").startswith(_MARKER_B):
                self._sentinel(line)
            else:
                kept.append(line + b"\n")
        return self._decoder.decode(b"".join(kept)) if kept else ""

    def _sentinel(self, line: bytes) -> None:
        self.finished = True
        if _FILES_B in line:
            self.files_incoming = True

    def close(self) -> list[TaskChunk]:
        """Flush what is left at the end of the body (and the artifacts marker, if any)."""
        out: list[TaskChunk] = []
        if self._pending:
            pending, self._pending = self._pending, b""
            if pending.lstrip(b" \t").startswith(_MARKER_B):
                self._sentinel(pending)
            else:
                text = self._decoder.decode(pending)
                if text:
                    out.append(TaskChunk(text=text))
        tail = self._decoder.decode(b"", True)
        if tail:
            out.append(TaskChunk(text=tail))
        if self.files_incoming:
            out.append(TaskChunk(text="", kind="marker"))
        return out


def _maybe_sentinel(tail: bytes) -> bool:
    """Could this start of a line still turn out to be a sentinel line?"""
    head = tail.lstrip(b" \t")
    return head.startswith(_MARKER_B) or _MARKER_B.startswith(head)


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
