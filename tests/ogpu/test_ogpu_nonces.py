"""Concurrent sends from one key, and a nonce manager that heals stalls, drops and holes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from ogpu_world import World

from agentfm_nb.ogpu import agent as ogpu_agent
from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.console import AgentConsole
from agentfm_nb.ogpu.errors import (
    TxDroppedError,
    TxError,
    TxReceiptTimeoutError,
    TxReplacedError,
)
from agentfm_nb.ogpu.events import Attempted, EventFeed
from agentfm_nb.ogpu.nonce_tools import fix_nonce, get_nonce_info, reset_nonce_cache
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


def _hold_next_nonce(agent: Agent) -> int:
    """Take the agent's next nonce and never send it: what a sender that crashed between
    reserving and sending leaves behind, or a nonce the node saw mined without its pool."""
    with agent.nonces.reserve(agent._tx) as held:
        return held


def _pool(world: World) -> tuple[int, int]:
    status = world.chain.rpc("txpool_status")
    return int(status["pending"], 16), int(status["queued"], 16)


def test_transaction_queued_for_good_is_resent_with_bumped_fees(world: World) -> None:
    """The stall the issue saw under load, made deterministic: the node parks our nonce k+1 in
    its queued set and nonce k is mined without passing through the pool (the race between
    the pool's nonce check and its insert; ``anvil_setNonce`` plays the mined k). The node
    then knows the transaction, has no receipt for it, and its pending count stops at k+1."""
    agent, task = _ready(world)
    assert world.chain.w3 is not None
    eth = world.chain.w3.eth
    agent.nonces.stall_after = 0.5
    console = AgentConsole(agent, follow=False)
    states: list[str] = []
    agent.add_listener(lambda record: states.append(record.state))
    k = _hold_next_nonce(agent)
    pending = agent.submit_attempt(task, world.provider, 4242)
    assert pending.nonce == k + 1
    world.chain.rpc("anvil_setNonce", world.agent, hex(k + 1))
    stuck = pending.tx_hash
    assert eth.get_transaction(stuck)["blockNumber"] is None  # known, not mined
    assert eth.get_transaction_count(world.agent, "pending") == k + 1  # stops at the gap
    assert _pool(world) == (0, 1)

    receipt = pending.wait(30)  # the waiter notices the stall and heals it: no restart

    assert receipt.ok and receipt.nonce == k + 1 and receipt.resends == 1
    assert receipt.tx_hash != stuck and pending.record.hashes == [stuck, receipt.tx_hash]
    assert pending.record.state == "mined" and pending.record.resends == 1
    assert states == ["pending", "resent", "mined"]
    # one row for the call, following its nonce across hashes
    (row,) = [t for t in console.txs if t["nonce"] == k + 1]
    assert row["state"] == "mined after 1 re-send(s)" and row["hashes"] == [stuck, receipt.tx_hash]
    console.close()
    sent = eth.get_transaction(receipt.tx_hash)
    assert sent["maxPriorityFeePerGas"] > eth.get_transaction(stuck)["maxPriorityFeePerGas"]
    att = receipt.event("Attempted")
    assert isinstance(att, Attempted) and att.suggested_payment == 4242
    assert agent.nonces.stats.resends == 1
    # the agent goes on from the node's count
    assert agent.attempt(task, world.provider, 1).nonce == k + 2


def test_hole_below_a_sent_nonce_is_filled(world: World) -> None:
    """Send k+1 before k, and never k: the healer takes k with a zero-value self-transfer so
    k+1 is mined."""
    agent, task = _ready(world)
    assert world.chain.w3 is not None
    eth = world.chain.w3.eth
    agent.nonces.stall_after = 0.5
    k = _hold_next_nonce(agent)
    pending = agent.submit_attempt(task, world.provider, 7)
    assert pending.nonce == k + 1 and _pool(world) == (0, 1)
    receipt = pending.wait(30)
    assert receipt.ok and receipt.nonce == k + 1 and receipt.resends == 0
    assert agent.nonces.stats.fills == 1
    mined = [
        (t["nonce"], t["to"], t["value"])
        for n in range(receipt.block_number - 1, receipt.block_number + 1)
        for t in eth.get_block(n, full_transactions=True)["transactions"]
        if t["from"] == world.agent
    ]
    assert mined == [(k, world.agent, 0), (k + 1, world.config.nexus, 0)]
    info = get_nonce_info(private_key=world.agent_key, chain=world.config)
    assert info["mined_nonce"] == info["pending_nonce"] == k + 2
    assert info["tracked"] == [] and info["heals"]["fills"] == 1


def test_dropped_transaction_is_sent_again(world: World) -> None:
    agent, task = _ready(world)
    world.chain.set_automine(False)
    pending = agent.submit_attempt(task, world.provider, 1)
    world.chain.rpc("anvil_dropTransaction", pending.tx_hash)
    assert _pool(world) == (0, 0)
    agent.nonces.stall_after = 0
    agent.heal()
    assert pending.item.rebroadcasts == 1 and _pool(world) == (1, 0)
    world.chain.rpc("evm_mine")
    receipt = pending.wait(10)
    assert receipt.ok and receipt.tx_hash == pending.item.hashes[0]


def test_dropped_transaction_that_cannot_be_resent_is_reported(world: World) -> None:
    agent, task = _ready(world)
    world.chain.set_automine(False)
    pending = agent.submit_attempt(task, world.provider, 1)
    world.chain.rpc("anvil_dropTransaction", pending.tx_hash)
    world.chain.rpc("anvil_setBalance", world.agent, "0x0")
    agent.nonces.stall_after = 0
    with pytest.raises(TxDroppedError) as info:
        pending.wait(10)
    assert type(info.value) is TxDroppedError and isinstance(info.value, TxError)
    assert info.value.tx_hash == pending.tx_hash and info.value.nonce == pending.nonce
    assert "refused when sent again" in info.value.message
    assert pending.record.state == "dropped"
    world.chain.rpc("anvil_setBalance", world.agent, hex(10**21))
    world.chain.set_automine(True)
    # the top nonce was freed: the next send reuses it, no gap
    assert agent.attempt(task, world.provider, 2).nonce == pending.nonce


def test_transactions_of_another_process_are_stepped_over(world: World) -> None:
    """Another process with the same key has transactions in the pool this manager never
    saw: the first send collides, the next one goes past them."""
    agent, task = _ready(world)
    assert world.chain.w3 is not None
    world.chain.set_automine(False)
    signer = Signer(world.agent_key)
    start = world.chain.w3.eth.get_transaction_count(world.agent)
    for nonce in range(start, start + 5):
        tx = {"to": world.agent, "value": 0, "gas": 21_000, "nonce": nonce, "chainId": 31337}
        fees = {"maxFeePerGas": 10**12, "maxPriorityFeePerGas": 10**11}
        world.chain.w3.eth.send_raw_transaction(signer.sign_transaction({**tx, **fees}))
    pending = agent.submit_attempt(task, world.provider, 1)
    assert pending.nonce == start + 5
    world.chain.rpc("evm_mine")
    assert pending.wait(10).ok


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


def test_timeout_keeps_tracking_and_says_it_may_still_be_mined(world: World) -> None:
    agent, task = _ready(world)
    world.chain.set_automine(False)
    agent.nonces.stall_after = 3600  # no healing in this test: nothing is mined on purpose
    pending = agent.submit_attempt(task, world.provider, 1)
    with pytest.raises(TxReceiptTimeoutError) as info:
        pending.wait(0.2)
    err = info.value
    assert isinstance(err, TxError) and err.tx_hash == pending.tx_hash and err.timeout == 0.2
    assert "may still be mined" in err.message and err.cancel_hash is None
    assert pending.record.state == "timeout"
    world.chain.rpc("evm_mine")
    assert pending.wait(10).ok  # still tracked: the later wait finds it


def test_timeout_can_cancel_at_the_same_nonce(world: World) -> None:
    agent, task = _ready(world)
    assert world.chain.w3 is not None
    world.chain.set_automine(False)
    agent.nonces.stall_after = 3600
    pending = agent.submit_attempt(task, world.provider, 1)
    with pytest.raises(TxReceiptTimeoutError) as info:
        pending.wait(0.2, on_timeout="cancel")
    err = info.value
    assert err.cancel_hash is not None and "may still be mined" in err.message
    assert pending.record.state == "cancelled"
    world.chain.rpc("evm_mine")
    cancel = world.chain.w3.eth.get_transaction_receipt(err.cancel_hash)
    assert cancel["status"] == 1
    with pytest.raises(TxReplacedError):  # the cancel took the nonce
        pending.wait(10)
    world.chain.set_automine(True)
    assert agent.attempt(task, world.provider, 2).nonce == pending.nonce + 1


def test_nonce_tools(world: World) -> None:
    """``fix_nonce`` clears a stuck nonce the node's pending count does not even show."""
    agent, task = _ready(world)
    agent.nonces.stall_after = 3600  # no automatic healing: the tools do it
    k = _hold_next_nonce(agent)
    stuck = agent.submit_attempt(task, world.provider, 1)
    info = get_nonce_info(private_key=world.agent_key, chain=world.config)
    assert info["address"] == world.agent and info["has_pending"] is True
    assert info["mined_nonce"] == info["pending_nonce"] == k  # the gap hides it from the node
    assert info["pending_count"] == 2 and info["cached_nonce"] == k + 2
    assert [(t["nonce"], t["function"]) for t in info["tracked"]] == [(k + 1, "attempt")]
    assert fix_nonce(private_key=world.agent_key, chain=world.config) == k + 2
    with pytest.raises(TxReplacedError):  # a cancel took its nonce
        stuck.wait(10)
    reset_nonce_cache(private_key=world.agent_key)
    assert agent.nonces.next_nonce is None
    assert agent.attempt(task, world.provider, 3).nonce == k + 2
