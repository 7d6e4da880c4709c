"""A local development chain: anvil (npm ``@foundry-rs/anvil``) plus our own test contracts.

Used by the tests, the benchmark and the demo notebook. The contracts in ``tests/chain/contracts``
mirror the published OpenGPU signatures, events and revert reasons; their compiled ABI and
bytecode ship in the package (``devchain_contracts.json``), so a wheel install needs only anvil.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import HTTPProvider, Web3

from agentfm_nb.ogpu.anvil import DevchainError, find_anvil
from agentfm_nb.ogpu.chain import LOCAL_CHAIN_ID, ChainConfig

DEV_MNEMONIC = "test test test test test test test test test test test junk"
_LISTEN = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")


CONTRACTS_FILE = Path(__file__).with_name("devchain_contracts.json")


def default_chain_dir() -> Path:
    """The Solidity sources (a checkout's ``tests/chain``; not shipped in the wheel)."""
    env = os.environ.get("AGENTFM_NB_CHAIN_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "tests" / "chain"


def anvil_binary(chain_dir: Path | None = None) -> Path:
    """The anvil to run (see ``agentfm_nb.ogpu.anvil``); ``AnvilNotFoundError`` names the
    install command when there is none."""
    return find_anvil(chain_dir)


def sources_digest(chain_dir: Path | None = None) -> str:
    """Hash of the Solidity sources and the compile script (keys the shipped build)."""
    base = chain_dir or default_chain_dir()
    digest = hashlib.sha256()
    for path in [*sorted((base / "contracts").glob("*.sol")), base / "compile.js"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def load_contracts() -> dict[str, Any]:
    """``{name: {"abi": [...], "bytecode": "0x..."}}`` of the test contracts, as shipped in
    the package (built by ``compile_contracts`` from ``tests/chain``)."""
    return dict(json.loads(CONTRACTS_FILE.read_text())["contracts"])


def compile_contracts(chain_dir: Path | None = None, out: Path | None = None) -> dict[str, Any]:
    """Compile ``tests/chain/contracts`` with solc-js (needs a checkout and its
    ``npm install``) and write the result, with the sources' digest, to ``out``."""
    base = chain_dir or default_chain_dir()
    done = subprocess.run(
        ["node", str(base / "compile.js")], capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise DevchainError(f"solc-js compile failed: {done.stderr.strip()[:2000]}")
    built = json.loads(done.stdout)
    built["sources_digest"] = sources_digest(base)
    if out is not None:
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # per process: parallel runs
        tmp.write_text(json.dumps(built, sort_keys=True, separators=(",", ":")) + "\n")
        tmp.replace(out)
    return dict(built["contracts"])


@dataclass(frozen=True)
class DevAccount:
    index: int
    address: str


class LocalChain:
    """Start anvil on a free port, deploy Terminal + Nexus, and drive the test-side calls
    (publish sources/tasks, set masters, lockups and agents) through anvil's unlocked accounts."""

    def __init__(
        self,
        chain_dir: Path | None = None,
        *,
        chain_id: int = LOCAL_CHAIN_ID,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        """``extra_args`` go to anvil as given (e.g. ``["--block-time", "1"]`` for interval
        mining instead of one block per transaction)."""
        self.extra_args = list(extra_args)
        self.chain_dir = chain_dir or default_chain_dir()
        self.chain_id = chain_id
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.w3: Any = None
        self.contracts: dict[str, Any] = {}
        self.nexus: Any = None
        self.terminal: Any = None
        Account.enable_unaudited_hdwallet_features()

    # -- process ------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> LocalChain:
        binary = anvil_binary(self.chain_dir)
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="anvil-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        # stdout to a file: anvil logs every call and an unread pipe eventually blocks it
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    str(binary),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--chain-id",
                    str(self.chain_id),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTEN.search(self.log_path.read_text(errors="replace"))
            if match:
                self.port = int(match.group(1))
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"anvil exited early: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.02)
        else:
            self.stop()
            raise RuntimeError("anvil did not report its port in time")
        self.w3 = Web3(HTTPProvider(self.rpc_url, exception_retry_configuration=None))
        return self

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> LocalChain:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- accounts -----------------------------------------------------------------------------
    def dev_key(self, index: int) -> str:
        """Private key of dev account ``index`` (derived at run time, never written down)."""
        acct = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        return "0x" + bytes(acct.key).hex()

    def dev_address(self, index: int) -> str:
        return str(self._w3.eth.accounts[index])

    # -- deployment ---------------------------------------------------------------------------
    @property
    def _w3(self) -> Any:
        if self.w3 is None:
            raise RuntimeError("LocalChain not started")
        return self.w3

    def deploy(self, deployer: int = 0) -> ChainConfig:
        self.contracts = load_contracts()
        terminal = self._deploy("Terminal", deployer)
        nexus = self._deploy("Nexus", deployer, terminal)
        self.terminal = self._w3.eth.contract(
            address=terminal, abi=self.contracts["Terminal"]["abi"]
        )
        self.nexus = self._w3.eth.contract(address=nexus, abi=self.contracts["Nexus"]["abi"])
        return self.config

    @property
    def config(self) -> ChainConfig:
        return ChainConfig.preset(
            "local",
            rpc_url=self.rpc_url,
            nexus=self.nexus.address,
            terminal=self.terminal.address,
            chain_id=self.chain_id,
        )

    def _deploy(self, name: str, deployer: int, *args: Any) -> str:
        spec = self.contracts[name]
        factory = self._w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
        tx = factory.constructor(*args).transact({"from": self.dev_address(deployer)})
        receipt = self._w3.eth.wait_for_transaction_receipt(tx)
        return str(receipt["contractAddress"])

    def _send(self, fn: Any, sender: int, value: int = 0) -> Any:
        tx = fn.transact({"from": self.dev_address(sender), "value": value})
        receipt = self._w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise RuntimeError(f"setup transaction reverted: {tx.hex()}")
        return receipt

    # -- protocol set-up (the principal/provider/client side, not the agent) ------------------
    def set_master(self, provider: int, master: int) -> None:
        self._send(self.terminal.functions.setMaster(self.dev_address(master)), provider)

    def lockup(self, provider: int, amount: int) -> None:
        self._send(self.terminal.functions.lockup(), provider, value=amount)

    def set_agent(self, principal: int, agent: str, value: bool = True) -> None:
        self._send(
            self.terminal.functions.setAgent(Web3.to_checksum_address(agent), value), principal
        )

    def publish_source(self, client: int = 0, min_lockup: int = 0) -> str:
        receipt = self._send(self.nexus.functions.publishSource(min_lockup), client)
        (ev,) = self.nexus.events.SourcePublished().process_receipt(receipt)
        return str(ev["args"]["source"])

    def set_source_status(self, source: str, status: int, client: int = 0) -> None:
        self._send(self.nexus.functions.setSourceStatus(source, status), client)

    def publish_task(
        self,
        source: str,
        *,
        client: int = 0,
        expires_in: int = 3600,
        payment: int = 10**15,
        config: str = '{"prompt": "hello"}',
    ) -> str:
        expiry = self.chain_time() + expires_in
        fn = self.nexus.functions.publishTask(source, config, expiry)
        receipt = self._send(fn, client, value=payment)
        (ev,) = self.nexus.events.TaskPublished().process_receipt(receipt)
        return str(ev["args"]["task"])

    def finalize_task(self, task: str, client: int = 0) -> None:
        self._send(self.nexus.functions.finalizeTask(task), client)

    # -- chain control ------------------------------------------------------------------------
    def chain_time(self) -> int:
        return int(self._w3.eth.get_block("latest")["timestamp"])

    def rpc(self, method: str, *params: Any) -> Any:
        response = self._w3.provider.make_request(method, list(params))
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response.get("result")

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        self.rpc("evm_revert", snapshot_id)

    def increase_time(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", seconds)
        self.rpc("evm_mine")

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", enabled)
