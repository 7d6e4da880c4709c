"""Text-level helpers for AgentFM output streams: the SDK's ``agentfm.streaming`` module.

``SentinelFilter`` removes the gateway's ``[AGENTFM: ...]`` protocol lines from a task's text
and remembers which ones it saw; ``parse_sse_lines`` / ``classify_sse_line`` read the ``data:``
payloads of an OpenAI-style event stream. The client's own hot path splits raw bytes in
``agentfm_nb.client._shared.StreamSplitter``; these work on ``str`` for code that already has
text (a saved log, a custom transport, the SDK's own examples).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from agentfm_nb.wire import FILES_INCOMING, MARKER_PREFIX, NO_FILES

SENTINEL_PREFIX: Final = MARKER_PREFIX
ARTIFACT_INCOMING: Final = FILES_INCOMING
ARTIFACT_NONE: Final = NO_FILES


class _Done:
    __slots__ = ()

    def __repr__(self) -> str:
        return "SSE_DONE"


SSE_DONE: Final[object] = _Done()
"""What ``classify_sse_line`` returns for the ``data: [DONE]`` terminator."""


class SentinelFilter:
    """Feed text in pieces of any size; get back whole lines with the protocol lines removed.

    A line is a protocol line when, after leading blanks, it starts with ``[AGENTFM:``. Lines
    are held until their newline arrives, because a marker can be split across network reads.
    ``artifacts_incoming`` / ``artifacts_complete`` record a ``FILES_INCOMING`` / ``NO_FILES``.
    """

    __slots__ = ("_carry", "artifacts_complete", "artifacts_incoming")

    def __init__(self) -> None:
        self._carry = ""
        self.artifacts_incoming = False
        self.artifacts_complete = False

    def feed(self, chunk: str) -> Iterator[str]:
        """The complete, non-protocol lines that ``chunk`` finishes, each ending in ``\\n``."""
        if "\n" not in chunk:  # the common partial read: nothing to split yet
            self._carry += chunk
            return
        *lines, self._carry = (self._carry + chunk).split("\n")
        for line in lines:
            if self._keep(line):
                yield line + "\n"

    def finalize(self) -> str:
        """The unterminated last line, or ``""`` when there is none or it is a protocol line."""
        line, self._carry = self._carry, ""
        return line if line and self._keep(line) else ""

    def _keep(self, line: str) -> bool:
        body = line.lstrip(" \t")
        if not body.startswith(SENTINEL_PREFIX):
            return True
        # A truncated marker (no closing bracket yet) is dropped but sets no flag.
        if ARTIFACT_INCOMING in body:
            self.artifacts_incoming = True
        elif ARTIFACT_NONE in body:
            self.artifacts_complete = True
        return False


def filter_iter(chunks: Iterable[str]) -> Iterator[str]:
    """Run a whole iterable of text pieces through one ``SentinelFilter``."""
    sentinel_filter = SentinelFilter()
    for chunk in chunks:
        yield from sentinel_filter.feed(chunk)
    tail = sentinel_filter.finalize()
    if tail:
        yield tail


def classify_sse_line(raw: str) -> str | object | None:
    """One event-stream line: its ``data:`` payload, ``SSE_DONE`` for ``[DONE]``, else ``None``.

    Blank lines, ``:`` comments, other fields (``event:``, ``id:``) and empty payloads are
    ``None``.
    """
    line = raw.rstrip("\r\n")
    if not line.startswith("data:"):
        return None
    payload = line[5:].lstrip()
    if payload == "[DONE]":
        return SSE_DONE
    return payload or None


def parse_sse_lines(lines: Iterable[str]) -> Iterator[str]:
    """The ``data:`` payloads of an event stream, up to (not including) ``[DONE]``."""
    for raw in lines:
        item = classify_sse_line(raw)
        if item is SSE_DONE:
            return
        if isinstance(item, str):
            yield item


__all__ = [
    "ARTIFACT_INCOMING",
    "ARTIFACT_NONE",
    "SENTINEL_PREFIX",
    "SSE_DONE",
    "SentinelFilter",
    "classify_sse_line",
    "filter_iter",
    "parse_sse_lines",
]
