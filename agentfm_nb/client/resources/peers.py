"""``client.peers``: the read-only reputation routes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from agentfm_nb.client.models import PeerID, PeerInfo, PeerReputation
from agentfm_nb.client.resources._base import AsyncResource, SyncResource
from agentfm_nb.errors import GatewayProtocolError


def _path(peer_id: str, tail: str = "") -> str:
    return f"/v1/peers/{quote(str(peer_id), safe='')}{tail}"


def _entries(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for key in ("entries", "data", "log"):
            if isinstance(body.get(key), list):
                body = body[key]
                break
    if not isinstance(body, list):
        raise GatewayProtocolError("peer log is not a list of entries")
    return [e for e in body if isinstance(e, dict)]


class Peers(SyncResource):
    def get(self, peer_id: PeerID | str) -> PeerInfo:
        return PeerInfo.from_wire(self._client._transport.json("GET", _path(peer_id)))

    def reputation(self, peer_id: PeerID | str) -> PeerReputation:
        body = self._client._transport.json("GET", _path(peer_id, "/reputation"))
        return PeerReputation.from_wire(body)

    def log(
        self, peer_id: PeerID | str, *, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        params = {"limit": limit, "offset": offset}
        body = self._client._transport.json("GET", _path(peer_id, "/log"), params=params)
        return _entries(body)


class AsyncPeers(AsyncResource):
    async def get(self, peer_id: PeerID | str) -> PeerInfo:
        return PeerInfo.from_wire(await self._client._transport.json("GET", _path(peer_id)))

    async def reputation(self, peer_id: PeerID | str) -> PeerReputation:
        body = await self._client._transport.json("GET", _path(peer_id, "/reputation"))
        return PeerReputation.from_wire(body)

    async def log(
        self, peer_id: PeerID | str, *, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        params = {"limit": limit, "offset": offset}
        body = await self._client._transport.json("GET", _path(peer_id, "/log"), params=params)
        return _entries(body)
