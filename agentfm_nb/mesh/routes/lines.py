"""A task's byte stream cut into lines as Go's ``bufio.Scanner`` does, protocol lines dropped.

``ScanLines`` semantics: a line ends at ``\\n`` (a ``\\r`` before it is dropped), a last line
without a newline still counts, and a line longer than the scanner's cap is an error
(``bufio.Scanner: token too long``), not a split.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

MAX_LINE_BYTES = 8 * 1024 * 1024
_SENTINEL = b"[AGENTFM:"


class TokenTooLong(Exception):
    def __init__(self) -> None:
        super().__init__("bufio.Scanner: token too long")


def _is_sentinel(line: bytes) -> bool:
    return line.lstrip(b" \t").startswith(_SENTINEL)


def _text(line: bytes) -> str:
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.decode("utf-8", "replace")


async def filtered_lines(
    chunks: AsyncIterator[bytes], max_line: int = MAX_LINE_BYTES
) -> AsyncGenerator[str, None]:
    """Every line of ``chunks`` that is not an ``[AGENTFM:`` protocol line, without its newline."""
    # a partial line kept as parts: a long line arriving in small chunks is joined once
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        end = chunk.find(b"\n")
        if end < 0:
            parts.append(chunk)
            size += len(chunk)
            if size >= max_line:
                raise TokenTooLong
            continue
        start = 0
        if parts:
            parts.append(chunk[:end])
            line = b"".join(parts)
            parts.clear()
            size = 0
            if len(line) >= max_line:
                raise TokenTooLong
            if not _is_sentinel(line):
                yield _text(line)
            start = end + 1
            end = chunk.find(b"\n", start)
        while end >= 0:
            if end - start >= max_line:
                raise TokenTooLong
            line = chunk[start:end]
            if not _is_sentinel(line):
                yield _text(line)
            start = end + 1
            end = chunk.find(b"\n", start)
        if start < len(chunk):
            parts.append(chunk[start:])
            size = len(chunk) - start
            if size >= max_line:
                raise TokenTooLong
    if parts:
        line = b"".join(parts)
        if not _is_sentinel(line):
            yield _text(line)


__all__ = ["MAX_LINE_BYTES", "TokenTooLong", "filtered_lines"]
