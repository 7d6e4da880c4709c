"""What ``tasks.stream`` returns: iterators that close the response the moment a loop ends.

A generator held in a variable outlives a ``break`` (nothing closes it until it is collected),
so the agent would keep running. These hand each ``for`` / ``async for`` its own generator that
only the loop holds, and keep a weak reference to it so ``close()`` / ``aclose()`` still reach it.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator

from agentfm_nb.client.models import TaskChunk


class TaskStream(Iterator[TaskChunk]):
    """What ``tasks.stream`` returns: iterate it once.

    ``for chunk in stream:`` iterates a generator that only the loop holds, so leaving the loop
    (``break``, an exception) frees it at once and closes the response, which makes the gateway
    stop the agent, even while ``stream`` itself stays in a variable. ``next(stream)`` and
    ``close()`` work as on a generator; ``with stream:`` closes it on exit.
    """

    __slots__ = ("_factory", "_gen", "_loop")

    def __init__(self, factory: Callable[[], Generator[TaskChunk, None, None]]) -> None:
        self._factory: Callable[[], Generator[TaskChunk, None, None]] | None = factory
        self._gen: Generator[TaskChunk, None, None] | None = None
        self._loop: weakref.ref[Generator[TaskChunk, None, None]] | None = None

    def __iter__(self) -> Iterator[TaskChunk]:
        factory, self._factory = self._factory, None
        if factory is None:
            return self
        gen = factory()  # owned by the caller's loop only; we keep a weak reference to close it
        self._loop = weakref.ref(gen)
        return gen

    def __next__(self) -> TaskChunk:
        if self._gen is None:
            factory, self._factory = self._factory, None
            if factory is None:
                raise StopIteration
            self._gen = factory()
        return next(self._gen)

    def close(self) -> None:
        self._factory = None
        loop_gen = self._loop() if self._loop is not None else None
        for gen in (self._gen, loop_gen):
            if gen is not None:
                gen.close()

    def __enter__(self) -> TaskStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTaskStream(AsyncIterator[TaskChunk]):
    """``tasks.stream`` of the async client: ``async for`` it once (see :class:`TaskStream`).

    Leaving an ``async for`` early drops the loop's generator; asyncio then closes it (and the
    response) on its next turn. ``aclose()``, ``contextlib.aclosing`` or ``async with`` close it
    before returning.
    """

    __slots__ = ("_factory", "_gen", "_loop")

    def __init__(self, factory: Callable[[], AsyncGenerator[TaskChunk, None]]) -> None:
        self._factory: Callable[[], AsyncGenerator[TaskChunk, None]] | None = factory
        self._gen: AsyncGenerator[TaskChunk, None] | None = None
        self._loop: weakref.ref[AsyncGenerator[TaskChunk, None]] | None = None

    def __aiter__(self) -> AsyncIterator[TaskChunk]:
        factory, self._factory = self._factory, None
        if factory is None:
            return self
        gen = factory()
        self._loop = weakref.ref(gen)
        return gen

    async def __anext__(self) -> TaskChunk:
        if self._gen is None:
            factory, self._factory = self._factory, None
            if factory is None:
                raise StopAsyncIteration
            self._gen = factory()
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        self._factory = None
        loop_gen = self._loop() if self._loop is not None else None
        for gen in (self._gen, loop_gen):
            if gen is not None:
                await gen.aclose()

    async def __aenter__(self) -> AsyncTaskStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["AsyncTaskStream", "TaskStream"]
