"""The event feed: a block range as typed records and a DataFrame, and followed live."""

from __future__ import annotations

import threading
import time

import pytest
from ogpu_world import MASTER, World

from agentfm_nb.ogpu.agent import Agent, TaskStatus
from agentfm_nb.ogpu.events import (
    AgentSet,
    Attempted,
    ChainEvent,
    EventFeed,
    Registered,
    TaskPublished,
    TaskStatusChanged,
    to_dataframe,
)

pytestmark = pytest.mark.chain


def test_range_and_dataframe(world: World) -> None:
    agent = Agent(world.config, world.agent_key)
    feed = EventFeed(agent.conn)
    start = agent.block_number() + 1
    agent.register_to(world.source, world.provider, 2)
    task = world.chain.publish_task(world.source)
    agent.attempt(task, world.provider, 5)
    world.chain.set_agent(MASTER, world.agent, False)
    events = feed.fetch(start)
    assert [type(e) for e in events] == [
        Registered,
        TaskPublished,
        Attempted,
        TaskStatusChanged,
        AgentSet,
    ]
    published = events[1]
    assert isinstance(published, TaskPublished) and published.task == task
    assert all(e.timestamp is not None and e.block_number >= start for e in events)
    revoked = events[-1]
    assert isinstance(revoked, AgentSet)
    assert (revoked.account, revoked.agent, revoked.value) == (world.master, world.agent, False)

    frame = to_dataframe(events)
    assert list(frame["name"]) == [e.name for e in events]
    assert frame.loc[3, "status"] == "ATTEMPTED"
    assert frame.loc[2, "suggested_payment"] == 5
    assert str(frame["timestamp"].dtype).startswith("datetime64")
    assert to_dataframe([]).empty


def test_follow_live(world: World) -> None:
    agent = Agent(world.config, world.agent_key)
    agent.register_to(world.source, world.provider, 1)
    seen: list[ChainEvent] = []
    got_status = threading.Event()

    def on_event(ev: ChainEvent) -> None:
        seen.append(ev)
        if isinstance(ev, TaskStatusChanged):
            got_status.set()

    follower = EventFeed(agent.conn).start(on_event, poll_interval=0.01)
    try:
        task = world.chain.publish_task(world.source)
        agent.attempt(task, world.provider, 1)
        assert got_status.wait(10)
    finally:
        follower.stop()
    assert not follower.running and follower.error is None
    names = [e.name for e in seen]
    assert names == ["TaskPublished", "Attempted", "TaskStatusChanged"]
    last = seen[-1]
    assert isinstance(last, TaskStatusChanged) and last.status is TaskStatus.ATTEMPTED


def test_follower_reports_a_dead_node() -> None:
    from agentfm_nb.ogpu.devchain import LocalChain
    from agentfm_nb.ogpu.errors import ChainConnectionError
    from agentfm_nb.ogpu.rpc import Connection

    with LocalChain(chain_id=4243) as chain:
        conn = Connection(chain.deploy())
        errors: list[BaseException] = []
        follower = EventFeed(conn).start(lambda ev: None, on_error=errors.append)
        chain.stop()
        deadline = time.monotonic() + 10
        while follower.running and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not follower.running
    assert len(errors) == 1 and isinstance(errors[0], ChainConnectionError)
