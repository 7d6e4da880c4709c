"""The three agent calls and every typed revert, against a real anvil node."""

from __future__ import annotations

import pytest
from ogpu_world import MASTER, MIN_LOCKUP, World

from agentfm_nb.ogpu import agent as ogpu_agent
from agentfm_nb.ogpu.agent import Agent, Environment, SourceStatus, TaskStatus
from agentfm_nb.ogpu.errors import (
    InsufficientLockupError,
    NotAgentError,
    NotEligibleError,
    NotMasterError,
    NotProviderError,
    PermissionError,
    SourceInactiveError,
    StateError,
    TaskAlreadyFinalizedError,
    TaskExpiredError,
    TxError,
    TxRevertedError,
    VaultError,
)
from agentfm_nb.ogpu.events import Attempted, Registered, TaskStatusChanged

pytestmark = pytest.mark.chain


def _registered(world: World) -> Agent:
    agent = Agent(world.config, world.agent_key)
    agent.register_to(world.source, world.provider, Environment.CPU)
    return agent


def _nonce(world: World, address: str) -> int:
    assert world.chain.w3 is not None
    return int(world.chain.w3.eth.get_transaction_count(address))


def test_register_attempt_unregister_happy_path(agent_env: World) -> None:
    w = agent_env
    receipt = ogpu_agent.register_to(
        w.source, w.provider, int(Environment.CPU | Environment.NVIDIA), chain=w.config, extra=1
    )
    assert receipt.ok and receipt.function == "register"
    reg = receipt.event("Registered")
    assert isinstance(reg, Registered)
    assert (reg.provider, reg.source, reg.preferred_environment) == (w.provider, w.source, 3)
    assert reg.registrant_id >= 1
    assert receipt.block_timestamp == w.chain.chain_time()
    assert receipt.gas_used > 21_000 and receipt.tx_hash.startswith("0x")

    task = w.chain.publish_task(w.source, payment=10**15)
    assert ogpu_agent.task_status(task, chain=w.config) is TaskStatus.NEW
    first = ogpu_agent.attempt(task, w.provider, 10**14, chain=w.config)
    att = first.event("Attempted")
    assert isinstance(att, Attempted)
    assert (att.task, att.provider, att.suggested_payment) == (task, w.provider, 10**14)
    changed = first.event("TaskStatusChanged")
    assert isinstance(changed, TaskStatusChanged) and changed.status is TaskStatus.ATTEMPTED
    assert ogpu_agent.task_status(task, chain=w.config) is TaskStatus.ATTEMPTED

    # a second attempt is recorded but does not change the status again
    second = ogpu_agent.attempt(task, w.provider, 10**14, chain=w.config)
    assert [e.name for e in second.events] == ["Attempted"]
    assert second.nonce == first.nonce + 1

    gone = ogpu_agent.unregister_from(w.source, w.provider, chain=w.config)
    assert gone.ok and gone.block_number > second.block_number


def test_reads(world: World) -> None:
    reader = ogpu_agent.ChainReader(world.config)
    assert reader.is_agent_of(world.master, world.agent) is True
    assert reader.is_agent_of(world.provider, world.agent) is False
    before = world.chain.chain_time()
    task = world.chain.publish_task(world.source, payment=777, config='{"x": 1}', expires_in=60)
    params = reader.task_params(task)
    assert (params.source, params.config, params.payment) == (world.source, '{"x": 1}', 777)
    # the expiry is the chain time read before publishing + 60 (a second may tick meanwhile)
    assert params.expiry_time == reader.task_expiry(task)
    assert before + 60 <= params.expiry_time <= world.chain.chain_time() + 60
    assert reader.source_status(world.source) is SourceStatus.ACTIVE


def test_unauthorized_agent_is_refused_before_sending(world: World) -> None:
    stranger = Agent(world.config, world.stranger_key)
    before = _nonce(world, stranger.address)
    with pytest.raises(NotAgentError) as info:
        stranger.register_to(world.source, world.provider, 1)
    err = info.value
    # the chain says only "NotMaster" (a string, as the published Nexus); the principal comes
    # from Terminal.masterOf and isAgentOf
    assert err.reason == "NotMaster" and err.error_name is None
    assert err.principal == world.master and err.agent == err.account == stranger.address
    assert isinstance(err, NotMasterError) and isinstance(err, PermissionError)
    assert not isinstance(err, TxError) and err.tx_hash is None
    assert err.message.startswith(f"Account {stranger.address} is not an agent of principal")
    assert _nonce(world, stranger.address) == before  # simulated only: no gas spent


def test_revoked_agent(world: World) -> None:
    agent = _registered(world)
    task = world.chain.publish_task(world.source)
    world.chain.set_agent(MASTER, world.agent, False)
    assert agent.is_agent_of(world.master, world.agent) is False
    with pytest.raises(NotAgentError) as info:
        agent.attempt(task, world.provider, 1)
    assert (info.value.principal, info.value.agent) == (world.master, world.agent)


def test_insufficient_lockup(world: World) -> None:
    agent = Agent(world.config, world.agent_key)
    rich = world.chain.publish_source(min_lockup=MIN_LOCKUP * 10)
    with pytest.raises(InsufficientLockupError) as info:
        agent.register_to(rich, world.provider, Environment.AMD)
    err = info.value
    assert (err.account, err.required, err.available) == (
        world.provider,
        MIN_LOCKUP * 10,
        MIN_LOCKUP,
    )
    assert err.source == rich and err.reason == "InsufficientLockup"
    assert isinstance(err, VaultError)
    assert err.message.startswith(
        f"Account {world.provider} has insufficient lockup: required {MIN_LOCKUP * 10}, "
        f"available {MIN_LOCKUP}"
    )


def test_inactive_source(world: World) -> None:
    agent = _registered(world)
    task = world.chain.publish_task(world.source)
    world.chain.set_source_status(world.source, int(SourceStatus.INACTIVE))
    with pytest.raises(SourceInactiveError) as info:
        agent.register_to(world.source, world.provider, 1)
    assert info.value.source == world.source
    with pytest.raises(SourceInactiveError) as info2:
        agent.attempt(task, world.provider, 1)
    assert info2.value.source == world.source  # looked up from the task's params


def test_expired_task(world: World) -> None:
    agent = _registered(world)
    task = world.chain.publish_task(world.source, expires_in=30)
    expiry = agent.task_expiry(task)
    world.chain.increase_time(120)
    with pytest.raises(TaskExpiredError) as info:
        agent.attempt(task, world.provider, 1)
    err = info.value
    assert err.task == task and err.expiry == err.expiry_time == expiry
    assert err.chain_time is not None and err.chain_time > expiry
    assert err.reason == "Expired" and isinstance(err, StateError)
    assert err.message.startswith(f"Task {task} expired at unix timestamp {expiry}")


def test_finalized_task(world: World) -> None:
    agent = _registered(world)
    task = world.chain.publish_task(world.source)
    world.chain.finalize_task(task)
    with pytest.raises(TaskAlreadyFinalizedError) as info:
        agent.attempt(task, world.provider, 1)
    assert info.value.task == task and info.value.status is TaskStatus.FINALIZED
    assert info.value.reason == "Task: AlreadyFinalized"


def test_require_strings_map_to_the_sdk_types(world: World) -> None:
    agent = Agent(world.config, world.agent_key)
    with pytest.raises(NotProviderError) as info:  # never registered
        agent.unregister_from(world.source, world.provider)
    assert info.value.reason == "NotProvider" and info.value.account == world.provider
    assert isinstance(info.value, PermissionError) and info.value.error_name is None
    task = world.chain.publish_task(world.source)
    with pytest.raises(NotEligibleError) as info2:  # attempt for a provider not registered
        agent.attempt(task, world.provider, 1)
    assert info2.value.reason == "NotEligible" and info2.value.account == world.provider
    assert isinstance(info2.value, VaultError) and isinstance(info2.value, TxRevertedError)


def test_provider_without_a_master_is_a_plain_not_master_error(world: World) -> None:
    """No principal to name (``masterOf`` is zero): the SDK's NotMasterError, not ours."""
    agent = Agent(world.config, world.agent_key)
    orphan = world.chain.dev_address(6)
    with pytest.raises(NotMasterError) as info:
        agent.register_to(world.source, orphan, 1)
    assert type(info.value) is NotMasterError and info.value.account == world.agent
    assert info.value.message.startswith(f"Account {world.agent} is not registered as a master")


def test_mined_failure_is_replayed_for_its_reason(world: World) -> None:
    """State changes between simulation and mining: the receipt has status 0 and the reason
    comes from replaying the call."""
    agent = _registered(world)
    task = world.chain.publish_task(world.source)
    world.chain.set_automine(False)
    pending = agent.submit_attempt(task, world.provider, 1)
    # revoke in the same block, ordered first by a higher tip
    assert world.chain.terminal is not None
    world.chain.terminal.functions.setAgent(world.agent, False).transact(
        {"from": world.master, "maxPriorityFeePerGas": 10**11, "maxFeePerGas": 10**12}
    )
    world.chain.rpc("evm_mine")
    with pytest.raises(NotAgentError) as info:
        pending.wait(10)
    assert info.value.tx_hash == pending.tx_hash
    assert info.value.principal == world.master
