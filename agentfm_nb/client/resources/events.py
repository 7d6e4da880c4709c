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
from agentfm_nb.errors import AgentFMError, GatewayConnectionError, GatewayProtocolError


@dataclass(slots=True)
class MeshEvent:
    """Any event; ``name`` is the SSE event name, ``data`` its decoded JSON payload."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = ""


@dataclass(slots=True)
class WorkerOnline(MeshEvent):
    kind: ClassVar[str] = "worker_online"

    @property
    def peer_id(self) -> str:
        return str(self.data.get("peer_id", ""))

    @property
    def agent_name(self) -> str:
        return str(self.data.get("agent_name", ""))

    @property
    def honesty_score(self) -> float:
        return float(self.data.get("honesty_score") or 0.0)


@dataclass(slots=True)
class WorkerOffline(MeshEvent):
    kind: ClassVar[str] = "worker_offline"

    @property
    def peer_id(self) -> str:
        return str(self.data.get("peer_id", ""))


@dataclass(slots=True)
class TaskStarted(MeshEvent):
    kind: ClassVar[str] = "task_started"

    @property
    def peer_id(self) -> str:
        return str(self.data.get("peer_id", ""))

    @property
    def task_id(self) -> str:
        return str(self.data.get("task_id", ""))


@dataclass(slots=True)
class TaskFinished(MeshEvent):
    kind: ClassVar[str] = "task_finished"

    @property
    def peer_id(self) -> str:
        return str(self.data.get("peer_id", ""))

    @property
    def task_id(self) -> str:
        return str(self.data.get("task_id", ""))

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


class Events(SyncResource):
    def stream(self, *, reconnect: bool = True, max_reconnects: int = 5) -> Iterator[MeshEvent]:
        """Yield events until the caller stops; reconnects with backoff on transport errors."""
        c = self._client
        failures = 0
        first = True
        while True:
            try:
                with connect_sse(
                    c._http, "GET", "/v1/events", timeout=stream_timeout(c.timeout)
                ) as source:
                    if source.response.status_code >= 400:
                        _check(source.response, source.response.read())
                    if not first:
                        yield Reconnected("reconnected")
                    first, failures = False, 0
                    for sse in source.iter_sse():
                        yield parse_event(sse.event, sse.data)
            except SSEError as exc:
                raise GatewayProtocolError(f"/v1/events is not an event stream: {exc}") from None
            except httpx.HTTPError as exc:
                scrub(exc)
                if not reconnect or failures >= max_reconnects:
                    raise GatewayConnectionError(
                        f"event stream from {c.gateway_url} failed ({type(exc).__name__})"
                    ) from None
            except AgentFMError:
                raise
            if not reconnect:
                return
            failures += 1
            if failures > max_reconnects:
                raise GatewayConnectionError(f"event stream from {c.gateway_url} keeps closing")
            time.sleep(0.1 * failures + 0.05)


class AsyncEvents(AsyncResource):
    async def stream(
        self, *, reconnect: bool = True, max_reconnects: int = 5
    ) -> AsyncIterator[MeshEvent]:
        """``async for`` over typed events; reconnects with backoff on transport errors."""
        c = self._client
        failures = 0
        first = True
        while True:
            try:
                async with aconnect_sse(
                    c._http, "GET", "/v1/events", timeout=stream_timeout(c.timeout)
                ) as source:
                    if source.response.status_code >= 400:
                        _check(source.response, await source.response.aread())
                    if not first:
                        yield Reconnected("reconnected")
                    first, failures = False, 0
                    async for sse in source.aiter_sse():
                        yield parse_event(sse.event, sse.data)
            except SSEError as exc:
                raise GatewayProtocolError(f"/v1/events is not an event stream: {exc}") from None
            except httpx.HTTPError as exc:
                scrub(exc)
                if not reconnect or failures >= max_reconnects:
                    raise GatewayConnectionError(
                        f"event stream from {c.gateway_url} failed ({type(exc).__name__})"
                    ) from None
            if not reconnect:
                return
            failures += 1
            if failures > max_reconnects:
                raise GatewayConnectionError(f"event stream from {c.gateway_url} keeps closing")
            await asyncio.sleep(0.1 * failures + 0.05)


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
