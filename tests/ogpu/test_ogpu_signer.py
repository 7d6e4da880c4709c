"""Signer loading, malformed keys, wrong chain, dead node, and the key never leaking."""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest
from ogpu_world import World

from agentfm_nb.ogpu import agent as ogpu_agent
from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.chain import ChainConfig
from agentfm_nb.ogpu.devchain import LocalChain
from agentfm_nb.ogpu.errors import (
    ChainConfigError,
    ChainConnectionError,
    ChainMismatchError,
    InvalidSignerError,
    MissingSignerError,
)
from agentfm_nb.ogpu.signer import Signer

FAKE_KEY = "0x" + "ab" * 32


def _texts(exc: BaseException) -> str:
    return " ".join([str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))])


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("OGPU_CHAIN", raising=False)
    with pytest.raises(MissingSignerError) as info:
        ogpu_agent.attempt("0x" + "11" * 20, "0x" + "22" * 20, 1)
    assert info.value.variable == "AGENT_PRIVATE_KEY"
    assert "AGENT_PRIVATE_KEY" in info.value.message
    monkeypatch.setenv("AGENT_PRIVATE_KEY", "   ")
    with pytest.raises(MissingSignerError):
        Signer.resolve()


def test_key_from_env_without_chain_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_PRIVATE_KEY", FAKE_KEY)
    monkeypatch.delenv("OGPU_CHAIN", raising=False)
    with pytest.raises(ChainConfigError) as info:
        ogpu_agent.register_to("0x" + "11" * 20, "0x" + "22" * 20, 1)
    assert FAKE_KEY[2:] not in _texts(info.value)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("0x1234", "64 hex digits"),
        ("0x" + "zz" * 32, "non-hex"),
        ("0x" + "00" * 32, "secp256k1"),
        ("f" * 64, "secp256k1"),
        ("0x" + "ab" * 33, "64 hex digits"),
    ],
)
def test_malformed_key(key: str, why: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidSignerError) as info:
        Signer(key)
    assert why in info.value.message
    assert key[2:12] not in _texts(info.value) and info.value.__cause__ is None
    monkeypatch.setenv("AGENT_PRIVATE_KEY", key)
    with pytest.raises(InvalidSignerError) as env_info:
        Signer.resolve()
    assert env_info.value.source == "$AGENT_PRIVATE_KEY"


def test_eth_account_error_is_not_chained(monkeypatch: pytest.MonkeyPatch) -> None:
    from eth_account import Account

    def quoting(key: str) -> None:
        raise ValueError(f"cannot use key {key}")  # as a library error might

    monkeypatch.setattr(Account, "from_key", quoting)
    with pytest.raises(InvalidSignerError) as info:
        Signer(FAKE_KEY)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert FAKE_KEY[2:] not in _texts(info.value)


def test_signer_hides_the_key() -> None:
    signer = Signer(FAKE_KEY)
    assert signer.address.startswith("0x") and FAKE_KEY[2:] not in repr(signer) + str(signer)
    assert "ab" * 8 not in repr(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_chain_presets() -> None:
    testnet = ChainConfig.preset("testnet", rpc_url="http://127.0.0.1:1")
    assert testnet.chain_id == 200820172034
    assert testnet.nexus == "0xF87bb2f3edB991a998992f14d35fE142e6Bb50b1"
    mainnet = ChainConfig.preset("mainnet", rpc_url="http://127.0.0.1:1")
    assert (mainnet.chain_id, mainnet.terminal) == (
        1071,
        "0xaEBC7b712D38Fc4d841f0732c21B8774339869D3",
    )
    with pytest.raises(ChainConfigError):
        ChainConfig.preset("mainnet")
    with pytest.raises(ChainConfigError):
        ChainConfig.preset("moon", rpc_url="http://x")
    with pytest.raises(ChainConfigError):
        ChainConfig.preset("local")


@pytest.mark.chain
def test_wrong_chain_id_refuses_to_sign(world: World) -> None:
    wrong = world.config.replace(chain_id=1071)
    agent = Agent(wrong, world.agent_key)
    assert world.chain.w3 is not None
    before = world.chain.w3.eth.get_transaction_count(world.agent)
    with pytest.raises(ChainMismatchError) as info:
        agent.register_to(world.source, world.provider, 1)
    assert (info.value.expected, info.value.actual) == (1071, world.config.chain_id)
    assert world.chain.w3.eth.get_transaction_count(world.agent) == before


@pytest.mark.chain
def test_node_stopped_mid_run(tmp_path: object) -> None:
    with LocalChain(chain_id=4242) as chain:
        config = chain.deploy()
        chain.set_master(2, 1)
        agent = Agent(config, chain.dev_key(3))
        chain.set_agent(1, agent.address)
        source = chain.publish_source()
        provider = chain.dev_address(2)
        assert agent.register_to(source, provider, 1).ok
        task = chain.publish_task(source)
        assert agent.attempt(task, provider, 1).ok
        chain.stop()
        with pytest.raises(ChainConnectionError) as info:
            agent.attempt(task, provider, 1)
        assert info.value.rpc_url == config.rpc_url
        with pytest.raises(ChainConnectionError):
            agent.task_status(task)
    assert chain.proc is not None and chain.proc.poll() is not None


@pytest.mark.chain
def test_key_absent_from_reprs_logs_and_errors(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = world.agent_key
    needles = [key, key[2:], key[2:].upper(), key[2:20]]
    monkeypatch.setenv("AGENT_PRIVATE_KEY", key)
    caplog.set_level(logging.DEBUG)
    agent = Agent(world.config)
    seen = [repr(agent), str(agent), repr(agent.signer), repr(agent.conn), repr(world.config)]
    receipt = agent.register_to(world.source, world.provider, 1)
    seen.append(repr(receipt))
    task = world.chain.publish_task(world.source, payment=10)
    pending = agent.submit_attempt(task, world.provider, 1)
    seen += [repr(pending), repr(pending.wait(10)), repr(list(agent.recent))]
    errors: list[BaseException] = []
    for call in (
        lambda: agent.unregister_from(world.source, world.chain.dev_address(6)),  # NotMaster
        lambda: Agent(world.config.replace(chain_id=1), key).attempt(task, world.provider, 1),
        lambda: Signer(key + "00"),
        lambda: Signer(key[:-1] + "g"),
    ):
        with pytest.raises(Exception) as info:
            call()
        errors.append(info.value)
    seen += [_texts(e) for e in errors]
    seen += [r.getMessage() + repr(r.args) + str(r.__dict__) for r in caplog.records]
    blob = "\n".join(seen)
    assert caplog.records, "web3 debug logging should have produced records"
    for needle in needles:
        assert needle.lower() not in blob.lower()
