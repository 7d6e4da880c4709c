"""What every agent kind provides to the runtime, and the line splitter of the line views."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

MAX_LINE_BYTES = 8 * 1024 * 1024

Hold = Callable[[Awaitable[Any]], None]

# Go's exec.ExitError text for the usual signals (syscall.Signal.String on Linux): the real
# worker writes it after "Sandbox exited:" and clients match on it.
_GO_SIGNAL_NAMES = {
    1: "hangup",
    2: "interrupt",
    3: "quit",
    4: "illegal instruction",
    5: "trace/breakpoint trap",
    6: "aborted",
    7: "bus error",
    8: "floating point exception",
    9: "killed",
    10: "user defined signal 1",
    11: "segmentation fault",
    12: "user defined signal 2",
    13: "broken pipe",
    14: "alarm clock",
    15: "terminated",
}


def exit_text(returncode: int) -> str:
    """How a process ended, worded as Go's ``ProcessState.String`` (``exit status 1``,
    ``signal: killed``) since that is what the real worker prints."""
    if returncode >= 0:
        return f"exit status {returncode}"
    num = -returncode
    name = _GO_SIGNAL_NAMES.get(num)
    if name is None:
        try:
            name = f"signal {signal.Signals(num).name}"
        except ValueError:
            name = f"signal {num}"
    return f"signal: {name}"


class AgentError(Exception):
    """The agent ran but failed (non-zero exit, exception, upstream error, timeout).

    ``detail`` is what a containerised agent would have printed on stderr before dying (the
    runtime writes it in-band; a command agent's own stderr is already in the stream, so it
    has none); ``exit`` is the Go-worded end (``exit status 1``) of the ``Sandbox exited`` line.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        detail: str | None = None,
        exit: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.detail = detail
        self.exit = exit if exit is not None else exit_text(1 if exit_code is None else exit_code)


class StartFailed(AgentError):
    """The agent could not be started at all (the real worker's ``Failed to start task``)."""


class Agent(Protocol):
    """One worker's agent. ``stream`` is an async generator of raw output bytes, as written.

    Closing the generator early (cancel, timeout, client gone) must stop the agent and release
    everything it holds; a failure is raised as :class:`AgentError` after the last chunk.
    ``uses_output_dir`` False means ``stream`` gets ``None``: the runtime then makes no folder
    (and builds no artifact) for the task, which is most of a tiny task's cost.
    ``hold(awaitable)`` is called by an agent whose work outlives the stream (a blocking python
    call that cannot be interrupted): the worker's slot stays taken until it completes.
    """

    uses_output_dir: bool

    def stream(self, prompt: str, output_dir: Path | None, hold: Hold) -> AsyncIterator[bytes]: ...

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
    "Hold",
    "LineBatch",
    "LineSplitter",
    "StartFailed",
    "batch_text",
    "exit_text",
]
