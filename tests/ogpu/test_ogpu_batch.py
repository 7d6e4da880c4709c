"""Pipelined sends through JSON-RPC batches (``submit_many`` / ``wait_all`` / ``attempt_many``)."""

from __future__ import annotations

import pytest
from ogpu_world import World

from agentfm_nb.ogpu.agent import Agent, TaskStatus
from agentfm_nb.ogpu.errors import ChainMismatchError, TaskAlreadyFinalizedError
from agentfm_nb.ogpu.events import Attempted, EventFeed
from agentfm_nb.ogpu.tx import PendingTx, Receipt

pytestmark = pytest.mark.chain


def _ready(world: World) -> tuple[Agent, str]:
    agent = Agent(world.config, world.agent_key)
    agent.register_to(world.source, world.provider, 1)
    return agent, world.chain.publish_task(world.source, payment=10**18)


def _count(world: World) -> int:
    assert world.chain.w3 is not None
    return int(world.chain.w3.eth.get_transaction_count(world.agent))


def test_fifty_batched_attempts_with_a_reverting_one(world: World) -> None:
    agent, task = _ready(world)
    finalized = world.chain.publish_task(world.source)
    world.chain.finalize_task(finalized)
    start = _count(world)
    items = [(task, world.provider, 1000 + i) for i in range(50)]
    items.insert(25, (finalized, world.provider, 7))

    results = agent.attempt_many(items, timeout=30)

    assert len(results) == 51
    error = results[25]
    assert isinstance(error, TaskAlreadyFinalizedError)
    assert error.tx_hash is None  # found by simulation: never signed nor sent
    assert error.task == finalized and error.status == TaskStatus.FINALIZED
    receipts = [r for i, r in enumerate(results) if i != 25]
    assert all(isinstance(r, Receipt) and r.ok for r in receipts)
    used = [r.nonce for r in receipts if isinstance(r, Receipt)]
    assert used == list(range(start, start + 50))  # in order, no gap where the revert was
    assert _count(world) == start + 50  # nothing else left this key (no gas spent on it)
    feed = EventFeed(agent.conn, ["Attempted"])
    paid = sorted(ev.suggested_payment for ev in feed.fetch(0) if isinstance(ev, Attempted))
    assert paid == [1000 + i for i in range(50)]
    assert agent.task_status(finalized) == TaskStatus.FINALIZED
    # the sequential path still works after the batch and continues the same nonce sequence
    assert agent.attempt(task, world.provider, 1).nonce == start + 50


def test_bad_argument_raises_before_anything_is_sent(world: World) -> None:
    agent, task = _ready(world)
    start = _count(world)
    with pytest.raises(ValueError, match="suggested_payment"):
        agent.attempt_many([(task, world.provider, 1), (task, world.provider, -1)])
    assert _count(world) == start
    assert agent.attempt(task, world.provider, 1).nonce == start


def test_wait_all_sends_a_dropped_one_again_and_keeps_the_others(world: World) -> None:
    agent, task = _ready(world)
    world.chain.set_automine(False)
    sent = agent.submit_many(
        "attempt",
        [{"task": task, "provider": world.provider, "suggested_payment": i} for i in (1, 2, 3)],
    )
    assert all(isinstance(p, PendingTx) for p in sent)
    last = sent[2]
    assert isinstance(last, PendingTx)
    lost_hash = last.tx_hash
    world.chain.rpc("anvil_dropTransaction", lost_hash)
    world.chain.rpc("evm_mine")
    world.chain.set_automine(True)
    agent.nonces.stall_after = 0  # no waiting for the stall period: heal on the first look
    results = agent.wait_all(sent, timeout=30)
    assert [type(r) for r in results] == [Receipt, Receipt, Receipt]
    first, second, third = results
    assert isinstance(first, Receipt) and isinstance(second, Receipt)
    assert isinstance(third, Receipt) and third.ok
    assert first.block_number == second.block_number  # one block read served both
    assert first.block_timestamp == second.block_timestamp > 0
    # the node had forgotten it: the same signed bytes went out again, same hash
    assert third.tx_hash == lost_hash and last.item.rebroadcasts == 1
    assert third.nonce == last.nonce and third.block_number > second.block_number
    assert agent.attempt(task, world.provider, 4).nonce == last.nonce + 1


def test_batch_checks_the_chain_id_before_signing(world: World) -> None:
    _, task = _ready(world)
    start = _count(world)
    wrong = Agent(world.config.replace(chain_id=world.config.chain_id + 1), world.agent_key)
    with pytest.raises(ChainMismatchError):
        wrong.attempt_many([(task, world.provider, 1)] * 3)
    assert _count(world) == start
