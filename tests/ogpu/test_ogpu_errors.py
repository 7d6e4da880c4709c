"""The ogpu SDK's error model and receipts, and no raw web3 exception on any path.

Failures come from real things: a real anvil refusing a transaction, a loopback socket that
drops every connection, and a loopback JSON-RPC proxy in front of anvil that refuses sends.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from eth_account import Account
from ogpu_world import World
from web3.exceptions import Web3Exception

from agentfm_nb.ogpu import errors
from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.chain import display_url
from agentfm_nb.ogpu.console import AgentConsole
from agentfm_nb.ogpu.errors import (
    ChainConnectionError,
    ConfigError,
    MissingSignerError,
    OGPUError,
    Role,
    TxError,
    TxRpcError,
    TxSendError,
)
from agentfm_nb.ogpu.signer import Signer
from agentfm_nb.ogpu.tx import Receipt

pytestmark = pytest.mark.chain


def _ready(world: World, key: Any = None) -> tuple[Agent, str]:
    agent = Agent(world.config, key if key is not None else world.agent_key)
    agent.register_to(world.source, world.provider, 1)
    return agent, world.chain.publish_task(world.source, payment=10**18)


def _count(world: World, address: str) -> int:
    assert world.chain.w3 is not None
    return int(world.chain.w3.eth.get_transaction_count(address))


def _typed(call: Callable[[], Any]) -> OGPUError:
    """Run ``call``; it must raise one of ours with no web3/requests exception attached."""
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    assert isinstance(exc, OGPUError), f"raw {type(exc).__module__}.{type(exc).__name__}: {exc}"
    chained = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    assert not isinstance(chained, (Web3Exception, requests.RequestException))
    return exc


def test_sdk_groups_and_names() -> None:
    """Every SDK class name exists here, in the SDK's group."""
    groups = {
        "StateError": ["TaskExpiredError", "TaskAlreadyFinalizedError", "SourceInactiveError"],
        "PermissionError": ["NotMasterError", "NotProviderError"],
        "VaultError": ["InsufficientLockupError", "NotEligibleError"],
        "TxError": [
            "TxRevertError",
            "TxReceiptTimeoutError",
            "TxRpcError",
            "NonceError",
            "GasError",
        ],
        "ConfigError": ["MissingSignerError", "InvalidSignerError"],
    }
    for group, names in groups.items():
        base = getattr(errors, group)
        assert issubclass(base, errors.OGPUError)
        for name in names:
            assert issubclass(getattr(errors, name), base), (name, group)
    missing = MissingSignerError(Role.AGENT)
    assert missing.role is Role.AGENT and isinstance(missing, ConfigError)
    assert "AGENT_PRIVATE_KEY" in missing.message
    assert errors.TxTimeoutError is errors.TxReceiptTimeoutError


def test_bad_contract_address_is_a_config_error(world: World) -> None:
    with pytest.raises(errors.ChainConfigError) as info:
        Agent(world.config.replace(nexus="0x1234"), world.agent_key)
    assert isinstance(info.value, ConfigError) and "nexus/terminal" in info.value.message


def test_missing_key_reports_the_agent_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_PRIVATE_KEY", raising=False)
    with pytest.raises(MissingSignerError) as info:
        Signer.resolve(None)
    assert info.value.role is Role.AGENT


def test_local_account_is_accepted_as_private_key(world: World) -> None:
    account = Account.from_key(world.agent_key)
    agent, task = _ready(world, key=account)
    assert agent.address == world.agent and world.agent_key[2:] not in repr(agent.signer)
    receipt = agent.attempt(task, world.provider, 5)
    assert isinstance(receipt, Receipt) and receipt.sender == world.agent


def test_receipt_has_the_sdk_fields(world: World) -> None:
    agent, task = _ready(world)
    receipt = agent.attempt(task, world.provider, 5)
    assert receipt.timestamp == receipt.block_timestamp == world.chain.chain_time()
    assert len(receipt.logs) == len(receipt.events) == 2  # Attempted + TaskStatusChanged
    assert {log["address"].lower() for log in receipt.logs} == {world.config.nexus.lower()}
    assert all(log["transactionHash"] == receipt.tx_hash for log in receipt.logs)


def test_insufficient_funds_is_typed_on_both_paths(world: World) -> None:
    agent, task = _ready(world)
    start = _count(world, world.agent)
    world.chain.rpc("anvil_setBalance", world.agent, "0x1")
    err = _typed(lambda: agent.attempt(task, world.provider, 1))
    assert isinstance(err, TxSendError) and isinstance(err, TxRpcError)
    assert isinstance(err, TxError) and "insufficient funds" in err.detail.lower()
    results = agent.attempt_many([(task, world.provider, i) for i in range(3)], timeout=10)
    assert all(isinstance(r, TxSendError) for r in results)
    assert _count(world, world.agent) == start  # nothing left the key
    world.chain.rpc("anvil_setBalance", world.agent, hex(10**21))
    assert agent.attempt(task, world.provider, 1).nonce == start  # no nonce was lost


@pytest.fixture
def dropping_node() -> Iterator[str]:
    """A loopback port that accepts every connection and closes it at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_node_that_drops_the_connection(world: World, dropping_node: str) -> None:
    agent = Agent(world.config.replace(rpc_url=dropping_node), world.agent_key)
    task = world.chain.publish_task(world.source)
    for call in (
        lambda: agent.attempt(task, world.provider, 1),
        lambda: agent.attempt_many([(task, world.provider, 1)]),
        lambda: agent.task_status(task),
        lambda: agent.preview("attempt", task=task, provider=world.provider, suggested_payment=1),
    ):
        err = _typed(call)
        assert isinstance(err, ChainConnectionError) and isinstance(err, TxRpcError)


class _RefusingProxy(BaseHTTPRequestHandler):
    """Forwards JSON-RPC to anvil but answers every ``eth_sendRawTransaction`` with an error
    (or, for ``mode == "http500"``, the whole request with an HTTP 500)."""

    upstream = ""
    mode = "rpc-error"

    def log_message(self, *args: object) -> None:  # keep test output quiet
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        items = body if isinstance(body, list) else [body]
        sends = any(i.get("method") == "eth_sendRawTransaction" for i in items)
        if sends and self.mode == "http500":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"upstream failure")
            return
        answers = []
        for item in items:
            if item.get("method") == "eth_sendRawTransaction":
                error = {"code": -32603, "message": "internal error: txpool unavailable"}
                answers.append({"jsonrpc": "2.0", "id": item.get("id"), "error": error})
            else:
                answers.append(requests.post(self.upstream, json=item, timeout=10).json())
        payload = json.dumps(answers if isinstance(body, list) else answers[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def proxy(world: World) -> Iterator[type[_RefusingProxy]]:
    handler = type("Handler", (_RefusingProxy,), {"upstream": world.config.rpc_url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("mode", ["rpc-error", "http500"])
def test_rpc_error_on_send(world: World, proxy: type[_RefusingProxy], mode: str) -> None:
    _, task = _ready(world)
    start = _count(world, world.agent)
    proxy.mode = mode
    url = proxy.url  # type: ignore[attr-defined]
    agent = Agent(world.config.replace(rpc_url=url), world.agent_key)
    err = _typed(lambda: agent.attempt(task, world.provider, 1))
    assert isinstance(err, TxRpcError)
    if mode == "rpc-error":
        assert isinstance(err, TxSendError) and "txpool unavailable" in err.detail
    results = agent.attempt_many([(task, world.provider, 1), (task, world.provider, 2)])
    assert all(isinstance(r, TxRpcError) for r in results)
    assert _count(world, world.agent) == start


def test_display_url_keeps_only_scheme_host_and_port() -> None:
    assert display_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert display_url("https://mainnet.infura.io/v3/abc123") == "https://mainnet.infura.io/…"
    assert display_url("https://u:p@node.example:8443/?key=k") == "https://node.example:8443/…"
    assert display_url("http://[::1]:8545/") == "http://[::1]:8545"
    assert display_url("not a url") == "<rpc url>"


def test_rpc_url_key_stays_out_of_reprs_errors_and_console_state(
    world: World, proxy: type[_RefusingProxy]
) -> None:
    """Hosted nodes carry the API key in the URL path or userinfo (``/v3/<key>``): it must not
    reach a repr, an error text or the console's widget state (saved into notebooks)."""
    secret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    _, task = _ready(world)
    base = proxy.url  # type: ignore[attr-defined]
    url = base.replace("http://", f"http://user:{secret}@") + f"/v3/{secret}?apikey={secret}"
    agent = Agent(world.config.replace(rpc_url=url), world.agent_key)
    console = AgentConsole(agent, [world.master], follow=False)
    err = _typed(lambda: agent.attempt(task, world.provider, 1))
    texts = [repr(agent), repr(agent.chain), str(err), repr(err), str(console.get_state())]
    console.close()
    dead = world.config.replace(rpc_url=f"http://127.0.0.1:9/v3/{secret}")
    texts.append(str(_typed(lambda: Agent(dead, world.agent_key).task_status(task))))
    for text in texts:
        assert secret not in text
    assert "127.0.0.1" in texts[0]
