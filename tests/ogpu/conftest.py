"""A real anvil node with our own OpenGPU test contracts, shared by the chain tests.

Each test runs between ``evm_snapshot`` and ``evm_revert`` so it starts from the same state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ogpu_world import AGENT, MASTER, MIN_LOCKUP, PROVIDER, STRANGER, World

from agentfm_nb.ogpu import nonces
from agentfm_nb.ogpu.devchain import LocalChain, anvil_binary


@pytest.fixture(scope="session")
def local_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChain]:
    try:
        anvil_binary()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    log = Path(tmp_path_factory.mktemp("anvil")) / "anvil.log"
    chain = LocalChain(log_path=log).start()
    try:
        chain.deploy()
        yield chain
    finally:
        chain.stop()
        assert chain.proc is not None and chain.proc.poll() is not None


@pytest.fixture(scope="session")
def world_base(local_chain: LocalChain) -> World:
    c = local_chain
    c.set_master(PROVIDER, MASTER)
    c.lockup(PROVIDER, MIN_LOCKUP)
    agent = c.dev_address(AGENT)
    c.set_agent(MASTER, agent, True)
    source = c.publish_source(min_lockup=MIN_LOCKUP)
    return World(
        chain=c,
        config=c.config,
        source=source,
        master=c.dev_address(MASTER),
        provider=c.dev_address(PROVIDER),
        agent=agent,
        agent_key=c.dev_key(AGENT),
        stranger_key=c.dev_key(STRANGER),
    )


def _clean_pool(chain: LocalChain) -> None:
    """``evm_revert`` keeps the transaction pool: a transaction a test left queued would sit
    in front of the next test's nonces. Drop them all and check the pool is empty."""
    chain.rpc("anvil_dropAllTransactions")
    status = chain.rpc("txpool_status")
    assert (int(status["pending"], 16), int(status["queued"], 16)) == (0, 0), status


@pytest.fixture
def world(world_base: World) -> Iterator[World]:
    snap = world_base.chain.snapshot()
    nonces.reset_all()
    try:
        yield world_base
    finally:
        world_base.chain.set_automine(True)
        world_base.chain.revert(snap)
        _clean_pool(world_base.chain)
        nonces.reset_all()


@pytest.fixture
def agent_env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("AGENT_PRIVATE_KEY", world.agent_key)
    return world
