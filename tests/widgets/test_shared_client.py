"""One shared async client per connection: a long session of chat turns and table refreshes,
given an explicit sync client, keeps the same open sockets and client objects."""

from __future__ import annotations

import gc
from typing import Any

import httpx
import psutil

from agentfm_nb.client import AgentFMClient, AsyncAgentFMClient
from agentfm_nb.widgets import ChatWidget, WorkerTable


def _open(url: str) -> tuple[int, int, int]:
    """(sockets to the gateway, async agentfm clients, httpx async clients) alive now."""
    port = httpx.URL(url).port
    sockets = sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )
    gc.collect()
    objs = gc.get_objects()
    twins = sum(1 for o in objs if isinstance(o, AsyncAgentFMClient))
    pools = sum(1 for o in objs if isinstance(o, httpx.AsyncClient))
    return sockets, twins, pools


def test_200_chat_turns_and_200_refreshes_share_one_client(gateway: Any) -> None:
    with AgentFMClient(gateway.url) as client:
        chat = ChatWidget(client, model="Echo")
        table = WorkerTable(client, live=False)
        try:
            # warm up: the first turn and refresh open what the session keeps
            assert chat.send("warm up").result(timeout=30)["status"] == "ok"
            table.refresh()
            before = _open(gateway.url)
            for i in range(200):
                assert chat.send(f"turn {i}").result(timeout=30)["status"] == "ok"
                table.refresh()
            after = _open(gateway.url)
        finally:
            table.stop()
        # same twin, same pools; sockets may only be reused, never pile up
        assert after[1:] == before[1:], (before, after)
        assert after[0] <= max(before[0], 1) + 1, (before, after)
    # closed with the sync client: its async twin and that twin's sockets are gone
    closed = _open(gateway.url)
    assert closed[0] == 0 and closed[1] < after[1], (after, closed)
