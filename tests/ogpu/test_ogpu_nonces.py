"""Concurrent sends from one key, dropped and replaced transactions, on a real node."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from ogpu_world import World

from agentfm_nb.ogpu import agent as ogpu_agent
from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.errors import TxDroppedError, TxReplacedError
from agentfm_nb.ogpu.events import Attempted, EventFeed
from agentfm_nb.ogpu.signer import Signer

pytestmark = pytest.mark.chain


def _ready(world: World) -> tuple[Agent, str]:
    agent = Agent(world.config, world.agent_key)
    agent.register_to(world.source, world.provider, 1)
    return agent, world.chain.publish_task(world.source, payment=10**18)


def test_fifty_concurrent_attempts_from_one_key(agent_env: World) -> None:
    w = agent_env
    _, task = _ready(w)
    assert w.chain.w3 is not None
    start = w.chain.w3.eth.get_transaction_count(w.agent)

    def one(i: int) -> tuple[int, int]:
        # the module-level function: a fresh Agent per call, sharing the key's nonce manager
        r = ogpu_agent.attempt(task, w.provider, 1000 + i, chain=w.config)
        return r.nonce, r.status

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(50)))
    used = sorted(n for n, _ in results)
    assert used == list(range(start, start + 50))  # distinct and gap-free
    assert all(status == 1 for _, status in results)
    assert w.chain.w3.eth.get_transaction_count(w.agent) == start + 50
    feed = EventFeed(ogpu_agent.ChainReader(w.config).conn, ["Attempted"])
    payments = sorted(ev.suggested_payment for ev in feed.fetch(0) if isinstance(ev, Attempted))
    assert payments == [1000 + i for i in range(50)]


def test_pipelined_submits_keep_order(world: World) -> None:
    agent, task = _ready(world)
    pending = [agent.submit_attempt(task, world.provider, i) for i in range(20)]
    receipts = [p.wait(30) for p in pending]
    nonces = [r.nonce for r in receipts]
    assert nonces == list(range(nonces[0], nonces[0] + 20))
    assert [r.block_number for r in receipts] == sorted(r.block_number for r in receipts)


def test_dropped_transaction_is_reported(world: World) -> None:
    agent, task = _ready(world)
    world.chain.set_automine(False)
    pending = agent.submit_attempt(task, world.provider, 1)
    world.chain.rpc("anvil_dropTransaction", pending.tx_hash)
    with pytest.raises(TxDroppedError) as info:
        pending.wait(10)
    assert type(info.value) is TxDroppedError
    assert info.value.tx_hash == pending.tx_hash and info.value.nonce == pending.nonce
    assert pending.record.state == "dropped"
    world.chain.set_automine(True)
    # the nonce manager re-synced: the next send reuses the freed nonce, no gap
    assert agent.attempt(task, world.provider, 2).nonce == pending.nonce


def test_replaced_transaction_is_reported(world: World) -> None:
    agent, task = _ready(world)
    world.chain.set_automine(False)
    pending = agent.submit_attempt(task, world.provider, 1)
    # the same key sends a different transaction with the same nonce and a higher fee
    signer = Signer(world.agent_key)
    assert world.chain.w3 is not None
    replacement = {
        "to": world.agent,
        "value": 0,
        "gas": 21_000,
        "nonce": pending.nonce,
        "chainId": world.config.chain_id,
        "maxFeePerGas": 10**12,
        "maxPriorityFeePerGas": 10**11,
    }
    world.chain.w3.eth.send_raw_transaction(signer.sign_transaction(replacement))
    world.chain.rpc("evm_mine")
    with pytest.raises(TxReplacedError) as info:
        pending.wait(10)
    assert info.value.nonce == pending.nonce and pending.record.state == "replaced"
