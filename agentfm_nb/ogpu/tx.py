"""Simulate, sign, send and wait: one transaction pipeline for the agent.

Every call is simulated with ``eth_estimateGas`` first, so a revert is reported (decoded) before
anything is signed or gas is spent. Nonces come from the shared local ``NonceManager``; while a
transaction is pending, the wait loop notices when the node dropped it or mined another
transaction with the same nonce.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from agentfm_nb.ogpu.abi import KNOWN_ERRORS
from agentfm_nb.ogpu.errors import (
    OGPUError,
    Revert,
    TxDroppedError,
    TxReplacedError,
    TxTimeoutError,
    decode_revert,
)
from agentfm_nb.ogpu.events import ChainEvent, decode_log
from agentfm_nb.ogpu.nonces import NonceManager, shared_manager
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.signer import Signer

# Builds the typed error for a revert (``tx_hash`` is None when found by simulation).
RevertMapper = Callable[[Revert, "str | None"], OGPUError]

_FEE_TTL_S = 2.0
_BLOCK_CACHE = 256


def gas_limit(estimate: int) -> int:
    """Headroom over the estimate: state may move between simulation and mining."""
    return estimate + estimate // 5 + 10_000


def as_int(value: Any) -> int:
    """Formatted (int) or raw JSON-RPC (hex string) quantity."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _hex(value: Any) -> str:
    return value if isinstance(value, str) else "0x" + bytes(value).hex()


@dataclass(frozen=True)
class Receipt:
    """A mined transaction: hash, block, gas, status (1 ok), decoded events, block time."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    events: tuple[ChainEvent, ...]
    block_timestamp: int
    nonce: int
    sender: str
    function: str

    @property
    def ok(self) -> bool:
        return self.status == 1

    def event(self, name: str) -> ChainEvent:
        for ev in self.events:
            if ev.name == name:
                return ev
        raise KeyError(f"no {name} event in {self.tx_hash}")


@dataclass
class TxRecord:
    """The agent's own transaction log entry (shown by the console)."""

    function: str
    args: dict[str, Any]
    tx_hash: str
    nonce: int
    state: str = "pending"  # pending | mined | reverted | dropped | replaced | timeout
    block_number: int | None = None
    gas_used: int | None = None
    error: str | None = None


class Transactor:
    """Sends contract calls signed by one key over one connection."""

    def __init__(
        self,
        conn: Connection,
        signer: Signer,
        *,
        nonces: NonceManager | None = None,
        on_record: Callable[[TxRecord], None] | None = None,
    ) -> None:
        self.conn = conn
        self.signer = signer
        self.nonces = nonces or shared_manager(
            conn.chain.rpc_url,
            conn.chain.chain_id,
            signer.address,
            lambda: int(
                conn.call(lambda: conn.w3.eth.get_transaction_count(signer.address, "pending"))
            ),
        )
        self.on_record = on_record
        self._fees: tuple[float, dict[str, int]] | None = None
        self._fee_lock = threading.Lock()
        self._block_times: dict[str, int] = {}

    def _fee_fields(self) -> dict[str, int]:
        with self._fee_lock:
            now = time.monotonic()
            if self._fees is None or now - self._fees[0] > _FEE_TTL_S:
                w3 = self.conn.w3
                block = self.conn.call(lambda: w3.eth.get_block("latest"))
                tip = int(self.conn.call(lambda: w3.eth.max_priority_fee))
                base = int(block.get("baseFeePerGas") or 0)
                self._fees = (now, {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip})
            return dict(self._fees[1])

    def build(self, fn: Any, gas: int) -> dict[str, Any]:
        """The unsigned transaction (nonce filled in at send time); no RPC besides fees."""
        return dict(
            fn.build_transaction(
                {
                    "from": self.signer.address,
                    "chainId": self.conn.chain.chain_id,
                    "gas": gas_limit(gas),
                    "nonce": 0,
                    **self._fee_fields(),
                }
            )
        )

    def block_time(self, block_hash: str, number: int) -> int:
        """Block timestamp, cached by hash (numbers are reused after a reorg or ``evm_revert``)."""
        ts = self._block_times.get(block_hash)
        if ts is None:
            block = self.conn.call(lambda: self.conn.w3.eth.get_block(number))
            ts = int(block["timestamp"])
            if _hex(block["hash"]) == block_hash:
                self.remember_block(block_hash, ts)
        return ts

    def remember_block(self, block_hash: str, timestamp: int) -> None:
        if len(self._block_times) >= _BLOCK_CACHE:
            self._block_times.pop(next(iter(self._block_times)))
        self._block_times[block_hash] = timestamp

    def simulate(self, fn: Any, on_revert: RevertMapper) -> int:
        """Estimate gas; a revert raises the mapped typed error (nothing is sent)."""
        self.conn.ensure_chain_id()
        try:
            with self.conn.transport():
                return int(fn.estimate_gas({"from": self.signer.address}))
        except ContractLogicError as exc:
            raise on_revert(decode_revert(exc, KNOWN_ERRORS), None) from None

    def submit(
        self, function: str, args: dict[str, Any], fn: Any, on_revert: RevertMapper
    ) -> PendingTx:
        """Simulate, then sign and send with the next local nonce."""
        gas = self.simulate(fn, on_revert)
        tx = self.build(fn, gas)
        for attempt in range(2):
            try:
                with self.nonces.reserve() as nonce:
                    tx["nonce"] = nonce
                    raw = self.signer.sign_transaction(tx)
                    with self.conn.transport():
                        tx_hash = self.conn.w3.eth.send_raw_transaction(raw)
                break
            except Web3RPCError as exc:
                # somebody else used this key (nonce too low): the manager re-synced, retry once
                if attempt == 0 and "nonce" in str(getattr(exc, "message", "")).lower():
                    continue
                raise
        record = TxRecord(function, args, "0x" + bytes(tx_hash).hex(), nonce)
        self._emit(record)
        return PendingTx(self, record, tx, on_revert)

    def _emit(self, record: TxRecord) -> None:
        if self.on_record is not None:
            self.on_record(record)


class PendingTx:
    """A sent transaction; ``wait()`` returns its ``Receipt`` or raises a typed error."""

    def __init__(
        self, owner: Transactor, record: TxRecord, tx: dict[str, Any], on_revert: RevertMapper
    ) -> None:
        self._owner = owner
        self.record = record
        self._tx = tx
        self._on_revert = on_revert

    @property
    def tx_hash(self) -> str:
        return self.record.tx_hash

    @property
    def nonce(self) -> int:
        return self.record.nonce

    def __repr__(self) -> str:
        return f"PendingTx({self.record.function}, {self.tx_hash}, nonce={self.nonce})"

    def _finish(self, state: str, **fields: Any) -> None:
        self.record.state = state
        for key, value in fields.items():
            setattr(self.record, key, value)
        self._owner._emit(self.record)

    def wait(self, timeout: float = 120.0) -> Receipt:
        conn = self._owner.conn
        eth = conn.w3.eth
        deadline = time.monotonic() + timeout
        delay = 0.002
        polls = 0
        while True:
            raw = self._receipt()
            if raw is not None:
                return self._decode(raw)
            polls += 1
            if polls % 5 == 0 and self._vanished():
                raw = self._receipt()  # it may have been mined between the two reads
                if raw is not None:
                    return self._decode(raw)
                mined = int(
                    conn.call(lambda: eth.get_transaction_count(self._tx["from"], "latest"))
                )
                raise self._lost(mined)
            if time.monotonic() > deadline:
                raise self._timed_out(timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _lost(self, mined_count: int) -> TxDroppedError:
        """The node no longer knows the transaction: replaced when its nonce was used anyway
        (``mined_count`` = the sender's mined transaction count), else dropped."""
        self._owner.nonces.resync()
        if mined_count > self.nonce:
            self._finish("replaced", error="replaced")
            return TxReplacedError(self.tx_hash, self.nonce)
        self._finish("dropped", error="dropped")
        return TxDroppedError(self.tx_hash, self.nonce)

    def _timed_out(self, timeout: float) -> TxTimeoutError:
        self._finish("timeout", error="timeout")
        return TxTimeoutError(self.tx_hash, timeout)

    def _receipt(self) -> Any:
        conn = self._owner.conn
        try:
            return conn.call(lambda: conn.w3.eth.get_transaction_receipt(self.tx_hash))
        except TransactionNotFound:
            return None

    def _vanished(self) -> bool:
        conn = self._owner.conn
        try:
            conn.call(lambda: conn.w3.eth.get_transaction(self.tx_hash))
        except TransactionNotFound:
            return True
        return False

    def _decode(self, raw: Any, timestamp: int | None = None) -> Receipt:
        """Build the ``Receipt`` from a formatted or raw receipt; a failed one raises (after
        replaying it to learn the reason)."""
        number = as_int(raw["blockNumber"])
        ts = timestamp
        if ts is None:
            ts = self._owner.block_time(_hex(raw["blockHash"]), number)
        logs = [
            {**log, "blockNumber": as_int(log["blockNumber"]), "logIndex": as_int(log["logIndex"])}
            for log in raw["logs"]
        ]
        events = tuple(ev for ev in (decode_log(log, ts) for log in logs) if ev is not None)
        receipt = Receipt(
            tx_hash=self.tx_hash,
            block_number=number,
            gas_used=as_int(raw["gasUsed"]),
            status=as_int(raw["status"]),
            events=events,
            block_timestamp=ts,
            nonce=self.nonce,
            sender=self._tx["from"],
            function=self.record.function,
        )
        if receipt.status != 1:
            error = self._on_revert(self._replay(number), self.tx_hash)
            self._finish(
                "reverted", block_number=number, gas_used=receipt.gas_used, error=str(error)
            )
            raise error
        self._finish("mined", block_number=number, gas_used=receipt.gas_used)
        return receipt

    def _replay(self, number: int) -> Revert:
        """Re-run a mined failure with ``eth_call`` to learn the reason: on the parent state
        first, then on the block's own state (an earlier transaction in the same block may be
        what made it fail)."""
        conn = self._owner.conn
        call = {k: self._tx[k] for k in ("from", "to", "data", "value") if k in self._tx}
        for block in (number - 1, number):
            try:
                with conn.transport():
                    conn.w3.eth.call(call, block)
            except ContractLogicError as exc:
                return decode_revert(exc, KNOWN_ERRORS)
        return Revert(data=None)
