"""A tiny in-process publish/subscribe bus for mesh events (fed to ``GET /v1/events``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


class Subscription:
    """Async iterator of events, ending when the bus closes. Slow readers lose the oldest."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _push(self, event: Event | None) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                # no replay in this protocol: keep the newest, count what was lost
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()
                    self.dropped += 1

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)  # stay closed for later reads
            raise StopAsyncIteration
        return event

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None on timeout or when the bus closed."""
        try:
            event = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if event is None:
            self._queue.put_nowait(None)
        return event


class EventBus:
    def __init__(self, *, maxsize: int = 1024) -> None:
        self._subs: set[Subscription] = set()
        self._maxsize = maxsize
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def publish(self, name: str, **data: Any) -> Event | None:
        """Hand the event to every subscriber (None, and nothing built, when there is none:
        every task start and end publishes, and mostly nobody listens)."""
        if not self._subs:
            return None
        event = Event(name, data)
        for sub in tuple(self._subs):
            sub._push(event)
        return event

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription(self._maxsize)
        if self._closed:
            sub._push(None)
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)

    def close(self) -> None:
        """End every subscription (shutdown)."""
        self._closed = True
        for sub in tuple(self._subs):
            sub._push(None)


__all__ = ["Event", "EventBus", "Subscription"]
