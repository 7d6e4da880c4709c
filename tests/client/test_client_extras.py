"""Portal, default clients, event parsing and reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from client_fakes import FakeServer, Route

from agentfm_nb import AgentFMClient, AsyncAgentFMClient
from agentfm_nb.client import MeshEvent, Reconnected, WorkerOffline, WorkerOnline
from agentfm_nb.client._default import (
    get_default_async_client,
    get_default_client,
    set_default_client,
)
from agentfm_nb.client._portal import portal
from agentfm_nb.client.resources.events import parse_event


def test_portal_runs_off_the_calling_loop() -> None:
    p = portal()

    async def where() -> Any:
        return asyncio.get_running_loop()

    assert p.run(where()) is p.loop
    assert p.submit(where()).result(5) is p.loop
    assert portal() is p


def test_defaults_follow_env(monkeypatch: pytest.MonkeyPatch, gateway: Any) -> None:
    set_default_client(None)
    monkeypatch.setenv("AGENTFM_GATEWAY_URL", gateway.url)
    try:
        c = get_default_client()
        assert c.gateway_url == gateway.url and get_default_client() is c
        ac = get_default_async_client()
        assert isinstance(ac, AsyncAgentFMClient) and ac.gateway_url == gateway.url
        workers = portal().run(ac.workers.list())
        assert len(workers) == 4
        mine = AgentFMClient(gateway.url, api_key=None)
        set_default_client(mine)
        assert get_default_client() is mine
        c.close()
    finally:
        set_default_client(None)


def test_parse_event_types() -> None:
    ev = parse_event("worker_online", '{"peer_id": "p", "agent_name": "A", "honesty_score": 0.4}')
    assert isinstance(ev, WorkerOnline) and (ev.peer_id, ev.honesty_score) == ("p", 0.4)
    assert isinstance(parse_event("worker_offline", '{"peer_id": "p"}'), WorkerOffline)
    odd = parse_event("brand_new_event", "not json")
    assert type(odd) is MeshEvent and odd.data == {"raw": "not json"}


def test_events_reconnect(fake_server: Callable[[dict[str, Route]], FakeServer]) -> None:
    body = b': ready\n\nevent: worker_offline\ndata: {"peer_id": "p1"}\n\n'
    srv = fake_server({"/v1/events": (200, "text/event-stream", body)})
    with AgentFMClient(srv.url, api_key=None) as c:
        got: list[MeshEvent] = []
        stream = c.events.stream()
        for ev in stream:
            got.append(ev)
            if len(got) == 3:
                break
        stream.close()
    assert [type(e) for e in got] == [WorkerOffline, Reconnected, WorkerOffline]
