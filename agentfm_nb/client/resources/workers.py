"""``client.workers``: discovery."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from agentfm_nb.client._shared import filter_workers
from agentfm_nb.client.models import PeerID, WorkerProfile, parse_workers
from agentfm_nb.client.resources._base import AsyncResource, SyncResource
from agentfm_nb.errors import WorkerNotFoundError

if TYPE_CHECKING:
    import pandas as pd

_list = list


def _params(include_offline: bool) -> dict[str, str]:
    return {"include_offline": "true"} if include_offline else {}


def _to_frame(workers: _list[WorkerProfile]) -> pd.DataFrame:
    from agentfm_nb.scatter.frames import workers_to_dataframe

    return workers_to_dataframe(workers)


class _Poll:
    """One ``list()`` call: the filters and when to stop polling (``wait_for_workers``)."""

    __slots__ = ("_deadline", "_filters", "_wanted")

    def __init__(self, wanted: int, timeout: float, **filters: Any) -> None:
        self._deadline = time.monotonic() + timeout
        self._wanted = wanted
        self._filters = filters

    def select(self, workers: _list[WorkerProfile]) -> _list[WorkerProfile]:
        return filter_workers(workers, **self._filters)

    def settled(self, found: _list[WorkerProfile]) -> bool:
        return len(found) >= self._wanted or time.monotonic() >= self._deadline


def _pick(workers: _list[WorkerProfile], peer_id: str) -> WorkerProfile:
    for w in workers:
        if w.peer_id == peer_id:
            return w
    raise WorkerNotFoundError(f"peer {peer_id!r} is not in current telemetry", status=404)


class Workers(SyncResource):
    def list(
        self,
        *,
        model: str | None = None,
        agent_name: str | None = None,
        author: str | None = None,
        available_only: bool = False,
        wait_for_workers: int = 0,
        poll_timeout: float = 15.0,
        poll_interval: float = 1.0,
        include_offline: bool = False,
    ) -> _list[WorkerProfile]:
        """Workers on the mesh; filters are case-insensitive, ``model`` matches the engine.

        With ``wait_for_workers=N`` polls until N match or ``poll_timeout`` passes.
        """
        poll = _Poll(
            wait_for_workers,
            poll_timeout,
            model=model,
            agent_name=agent_name,
            author=author,
            available_only=available_only,
        )
        while True:
            found = poll.select(self.fetch(include_offline=include_offline))
            if poll.settled(found):
                return found
            time.sleep(poll_interval)

    def fetch(self, *, include_offline: bool = False) -> _list[WorkerProfile]:
        body = self._client._transport.json("GET", "/api/workers", params=_params(include_offline))
        return parse_workers(body)

    def get(self, peer_id: PeerID | str) -> WorkerProfile:
        return _pick(self.fetch(include_offline=True), str(peer_id))

    def to_dataframe(self, **filters: Any) -> pd.DataFrame:
        """``list(**filters)`` as a typed DataFrame."""
        return _to_frame(self.list(**filters))


class AsyncWorkers(AsyncResource):
    async def list(
        self,
        *,
        model: str | None = None,
        agent_name: str | None = None,
        author: str | None = None,
        available_only: bool = False,
        wait_for_workers: int = 0,
        poll_timeout: float = 15.0,
        poll_interval: float = 1.0,
        include_offline: bool = False,
    ) -> _list[WorkerProfile]:
        """Workers on the mesh; filters are case-insensitive, ``model`` matches the engine."""
        poll = _Poll(
            wait_for_workers,
            poll_timeout,
            model=model,
            agent_name=agent_name,
            author=author,
            available_only=available_only,
        )
        while True:
            found = poll.select(await self.fetch(include_offline=include_offline))
            if poll.settled(found):
                return found
            await asyncio.sleep(poll_interval)

    async def fetch(self, *, include_offline: bool = False) -> _list[WorkerProfile]:
        body = await self._client._transport.json(
            "GET", "/api/workers", params=_params(include_offline)
        )
        return parse_workers(body)

    async def get(self, peer_id: PeerID | str) -> WorkerProfile:
        return _pick(await self.fetch(include_offline=True), str(peer_id))

    async def to_dataframe(self, **filters: Any) -> pd.DataFrame:
        return _to_frame(await self.list(**filters))
