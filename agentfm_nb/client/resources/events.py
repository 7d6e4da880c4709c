"""``client.events``: typed Server-Sent Events from ``/v1/events``, reconnecting.

The gateway does not replay missed events, so after a reconnect a ``Reconnected`` event is
yielded: the consumer should re-list workers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from httpx_sse import SSEError, aconnect_sse, connect_sse

from agentfm_nb.client._transport import error_from_response, scrub, stream_timeout
from agentfm_nb.client.resources._base import AsyncResource, SyncResource
from agentfm_nb.errors import GatewayConnectionError, GatewayProtocolError


@dataclass(slots=True)
class MeshEvent:
    """Any event; ``name`` is the SSE event name, ``data`` its decoded JSON payload."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = ""


@dataclass(slots=True)
class _PeerEvent(MeshEvent):
    @property
    def peer_id(self) -> str:
        return str(self.data.get("peer_id", ""))


@dataclass(slots=True)
class _TaskEvent(_PeerEvent):
    @property
    def task_id(self) -> str:
        return str(self.data.get("task_id", ""))


@dataclass(slots=True)
class WorkerOnline(_PeerEvent):
    kind: ClassVar[str] = "worker_online"

    @property
    def agent_name(self) -> str:
        return str(self.data.get("agent_name", ""))

    @property
    def honesty_score(self) -> float:
        return float(self.data.get("honesty_score") or 0.0)


@dataclass(slots=True)
class WorkerOffline(_PeerEvent):
    kind: ClassVar[str] = "worker_offline"


@dataclass(slots=True)
class TaskStarted(_TaskEvent):
    kind: ClassVar[str] = "task_started"


@dataclass(slots=True)
class TaskFinished(_TaskEvent):
    kind: ClassVar[str] = "task_finished"

    @property
    def status(self) -> str:
        return str(self.data.get("status", ""))


@dataclass(slots=True)
class EntryAppended(MeshEvent):
    kind: ClassVar[str] = "entry_appended"

    @property
    def subject_peer_id(self) -> str:
        return str(self.data.get("subject_peer_id", ""))


@dataclass(slots=True)
class Reconnected(MeshEvent):
    """Synthetic: the stream was re-opened; events in between were missed."""

    kind: ClassVar[str] = "reconnected"


_TYPES: dict[str, type[MeshEvent]] = {
    t.kind: t for t in (WorkerOnline, WorkerOffline, TaskStarted, TaskFinished, EntryAppended)
}


def parse_event(name: str, raw: str) -> MeshEvent:
    """Unknown names become plain ``MeshEvent``; non-JSON data is kept as ``{"raw": ...}``."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {"raw": raw}
    if not isinstance(data, dict):
        data = {"value": data}
    return _TYPES.get(name, MeshEvent)(name or "message", data)


def _check(response: httpx.Response, body: bytes) -> None:
    raise error_from_response(response.status_code, response.headers, body)


def _not_an_event_stream(exc: SSEError) -> GatewayProtocolError:
    return GatewayProtocolError(f"/v1/events is not an event stream: {exc}")


class _Reconnects:
    """The reconnect policy both twins follow; they only do the I/O and the sleeping."""

    __slots__ = ("_first", "_gateway_url", "_max", "_reconnect", "failures")

    def __init__(self, gateway_url: str, reconnect: bool, max_reconnects: int) -> None:
        self._gateway_url = gateway_url
        self._reconnect = reconnect
        self._max = max_reconnects
        self._first = True
        self.failures = 0

    def opened(self) -> Reconnected | None:
        """The stream is open: a ``Reconnected`` marker unless this is the first connection."""
        marker = None if self._first else Reconnected("reconnected")
        self._first, self.failures = False, 0
        return marker

    def dropped(self, exc: httpx.HTTPError) -> None:
        """A transport error: raise when reconnecting is off or used up, else return."""
        scrub(exc)
        # never connected: the gateway is not there, say so now rather than after the backoff
        if self._first or not self._reconnect or self.failures >= self._max:
            raise GatewayConnectionError(
                f"event stream from {self._gateway_url} failed ({type(exc).__name__})"
            ) from None

    def next_delay(self) -> float | None:
        """Seconds to wait before reconnecting, ``None`` to end the stream (reconnect off)."""
        if not self._reconnect:
            return None
        self.failures += 1
        if self.failures > self._max:
            raise GatewayConnectionError(f"event stream from {self._gateway_url} keeps closing")
        # exponential, capped: rides out a gateway restart (~20 s with the default 10 tries)
        return min(0.1 * 2.0 ** (self.failures - 1), 3.0)


class Events(SyncResource):
    def stream(self, *, reconnect: bool = True, max_reconnects: int = 10) -> Iterator[MeshEvent]:
        """Yield events until the caller stops; reconnects with backoff on transport errors."""
        c = self._client
        policy = _Reconnects(c.gateway_url, reconnect, max_reconnects)
        while True:
            try:
                with connect_sse(
                    c._http, "GET", "/v1/events", timeout=stream_timeout(c.timeout)
                ) as source:
                    if source.response.status_code >= 400:
                        _check(source.response, source.response.read())
                    marker = policy.opened()
                    if marker is not None:
                        yield marker
                    for sse in source.iter_sse():
                        yield parse_event(sse.event, sse.data)
            except SSEError as exc:
                raise _not_an_event_stream(exc) from None
            except httpx.HTTPError as exc:
                policy.dropped(exc)
            delay = policy.next_delay()
            if delay is None:
                return
            time.sleep(delay)


class AsyncEvents(AsyncResource):
    async def stream(
        self, *, reconnect: bool = True, max_reconnects: int = 10
    ) -> AsyncIterator[MeshEvent]:
        """``async for`` over typed events; reconnects with backoff on transport errors."""
        c = self._client
        policy = _Reconnects(c.gateway_url, reconnect, max_reconnects)
        while True:
            try:
                async with aconnect_sse(
                    c._http, "GET", "/v1/events", timeout=stream_timeout(c.timeout)
                ) as source:
                    if source.response.status_code >= 400:
                        _check(source.response, await source.response.aread())
                    marker = policy.opened()
                    if marker is not None:
                        yield marker
                    async for sse in source.aiter_sse():
                        yield parse_event(sse.event, sse.data)
            except SSEError as exc:
                raise _not_an_event_stream(exc) from None
            except httpx.HTTPError as exc:
                policy.dropped(exc)
            delay = policy.next_delay()
            if delay is None:
                return
            await asyncio.sleep(delay)


__all__ = [
    "EntryAppended",
    "MeshEvent",
    "Reconnected",
    "TaskFinished",
    "TaskStarted",
    "WorkerOffline",
    "WorkerOnline",
    "parse_event",
]
