"""What every agent kind provides to the runtime, and the shared line splitter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

MAX_LINE_BYTES = 8 * 1024 * 1024
READ_CHUNK = 64 * 1024


class AgentError(Exception):
    """The agent ran but failed (non-zero exit, exception, upstream error)."""

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Agent(Protocol):
    """One worker's agent. ``stream`` is an async generator of line batches (no newlines).

    Closing the generator early (cancel, timeout, client gone) must stop the agent and release
    everything it holds; a failure is raised as :class:`AgentError` after the last batch.
    ``uses_output_dir`` False means ``stream`` gets ``None``: the runtime then makes no folder
    (and builds no artifact) for the task, which is most of a tiny task's cost.
    """

    uses_output_dir: bool

    def stream(self, prompt: str, output_dir: Path | None) -> AsyncIterator[list[str]]: ...

    async def aclose(self) -> None: ...


class LineBatch(list[str]):
    """Lines that also keep their ``"\\n"``-joined text, so a big batch is never re-joined."""

    __slots__ = ("text",)

    def __init__(self, lines: list[str], text: str) -> None:
        super().__init__(lines)
        self.text = text


def batch_text(batch: list[str]) -> str:
    """The lines of ``batch`` joined with newlines (free for a :class:`LineBatch`)."""
    return batch.text if type(batch) is LineBatch else "\n".join(batch)


class LineSplitter:
    """Bytes in, complete decoded lines out; a line longer than ``max_line`` is cut there."""

    __slots__ = ("_max", "_parts", "_size")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._parts: list[bytes] = []  # the pending partial line, kept as parts (no re-copying)
        self._size = 0
        self._max = max_line

    def feed(self, data: bytes) -> list[str]:
        if b"\n" not in data:
            self._parts.append(data)
            self._size += len(data)
            if self._size <= self._max:
                return []
            buf = b"".join(self._parts)
            full = len(buf) // self._max * self._max
            self._parts = [buf[full:]] if full < len(buf) else []
            self._size = len(buf) - full
            return _cut(buf[:full], self._max)
        end = data.rindex(b"\n")
        head = data[:end]
        if self._parts:
            self._parts.append(head)
            head = b"".join(self._parts)
        rest = data[end + 1 :]
        self._parts = [rest] if rest else []
        self._size = len(rest)
        if len(head) <= self._max:
            # No line can be over the cap: decode every complete line at once (a newline never
            # sits inside a UTF-8 sequence, so this equals decoding line by line).
            text = head.decode("utf-8", "replace")
            if "\r" in text:
                return [line.removesuffix("\r") for line in text.split("\n")]
            return LineBatch(text.split("\n"), text)
        out: list[str] = []
        for raw in head.split(b"\n"):
            if len(raw) > self._max:
                out.extend(_cut(raw, self._max))
            else:
                out.append(_decode(raw))
        return out

    def flush(self) -> list[str]:
        rest = b"".join(self._parts)
        self._parts = []
        self._size = 0
        if not rest:
            return []
        return [_decode(rest)] if len(rest) <= self._max else _cut(rest, self._max)


class TextLineSplitter:
    """Text fragments in (upstream token deltas), complete lines out."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[str] = []

    def feed(self, text: str) -> list[str]:
        if "\n" not in text:
            self._parts.append(text)
            return []
        *complete, rest = text.split("\n")
        if self._parts:
            complete[0] = "".join(self._parts) + complete[0]
        self._parts = [rest] if rest else []
        return [line.removesuffix("\r") for line in complete]

    def flush(self) -> list[str]:
        rest = "".join(self._parts)
        self._parts = []
        return [rest] if rest else []


def split_text(text: str) -> list[str]:
    """One yielded text item as lines: ``"a\\nb\\n"`` -> ``["a", "b"]``."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _decode(raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", "replace")


def _cut(raw: bytes, size: int) -> list[str]:
    return [raw[i : i + size].decode("utf-8", "replace") for i in range(0, len(raw), size)]


__all__ = [
    "MAX_LINE_BYTES",
    "Agent",
    "AgentError",
    "LineBatch",
    "LineSplitter",
    "TextLineSplitter",
    "batch_text",
    "split_text",
]
