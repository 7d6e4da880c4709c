"""Python agents used by test_runtime_python (imported by ``module:function``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

STATE: dict[str, object] = {}


def plain(prompt: str) -> str:
    return f"plain:{prompt}\nsecond"


def with_dir(prompt: str, output_dir: Path) -> str:
    (output_dir / "made.txt").write_text(prompt)
    return "wrote"


def gen(prompt: str) -> Iterator[str]:
    for i in range(3):
        yield f"{prompt}-{i}"


def many(prompt: str) -> Iterator[str]:
    for i in range(20000):
        yield str(i)


def slow_gen(prompt: str) -> Iterator[str]:
    """Blocks between items; records how far it got and whether it was closed."""
    STATE["closed"] = False
    STATE["count"] = 0
    STATE["thread"] = threading.current_thread().name
    try:
        for i in range(1000):
            STATE["count"] = i + 1
            yield f"tick {i}"
            time.sleep(0.02)
    finally:
        STATE["closed"] = True


async def agen(prompt: str, output_dir: Path) -> AsyncIterator[str]:
    for word in prompt.split():
        await asyncio.sleep(0)
        yield word


async def coro(prompt: str) -> str:
    await asyncio.sleep(0)
    return prompt.upper()


def boom(prompt: str) -> Iterator[str]:
    yield "before"
    raise RuntimeError("agent blew up")


async def hang(prompt: str) -> str:
    await asyncio.sleep(600)
    return "never"
