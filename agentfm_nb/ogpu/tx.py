"""Simulate, sign, send and wait: one transaction pipeline for the agent.

Every call is simulated with ``eth_estimateGas`` first, so a revert is reported (decoded) before
anything is signed or gas is spent. Nonces come from the key's shared ``NonceManager``, which
tracks every sent transaction per nonce; waiting follows the nonce (a stalled transaction may be
re-sent with bumped fees under a new hash) and lets the manager heal stalls as it polls.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from web3.exceptions import ContractLogicError

from agentfm_nb.ogpu.abi import KNOWN_ERRORS
from agentfm_nb.ogpu.errors import OGPUError, TxReceiptTimeoutError, TxSendError
from agentfm_nb.ogpu.events import ChainEvent, decode_log
from agentfm_nb.ogpu.nonces import (
    InFlight,
    NonceManager,
    accepted,
    message_of,
    shared_manager,
    tx_hash_of,
)
from agentfm_nb.ogpu.revert import Revert, decode_revert
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.signer import Signer

# Builds the typed error for a revert (``tx_hash`` is None when found by simulation).
RevertMapper = Callable[[Revert, "str | None"], OGPUError]
OnTimeout = Literal["keep", "cancel"]

_FEE_TTL_S = 2.0
_BLOCK_CACHE = 256
_SEND_TRIES = 3
_ids = itertools.count(1)


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
    """A mined transaction. ``logs`` are the raw logs and ``timestamp`` the block time, as in
    the ``ogpu`` SDK's receipt; ``events`` are the same logs decoded."""

    tx_hash: str
    block_number: int
    gas_used: int
    status: int
    events: tuple[ChainEvent, ...]
    block_timestamp: int
    nonce: int
    sender: str
    function: str
    logs: tuple[dict[str, Any], ...] = ()
    resends: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 1

    @property
    def timestamp(self) -> int:
        return self.block_timestamp

    def event(self, name: str) -> ChainEvent:
        for ev in self.events:
            if ev.name == name:
                return ev
        raise KeyError(f"no {name} event in {self.tx_hash}")


@dataclass
class TxRecord:
    """The agent's own transaction log entry (shown by the console). ``state`` is one of
    pending, stalled, resent, mined, reverted, dropped, replaced, timeout, cancelled;
    ``hashes`` lists every version sent for the nonce (newest last)."""

    function: str
    args: dict[str, Any]
    tx_hash: str
    nonce: int
    state: str = "pending"
    block_number: int | None = None
    gas_used: int | None = None
    error: str | None = None
    hashes: list[str] = field(default_factory=list)
    resends: int = 0
    rid: int = field(default_factory=lambda: next(_ids))


class _Refused(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Transactor:
    """Sends contract calls signed by one key over one connection (the nonce manager's
    ``Node``: raw batches, signing and current fees)."""

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
            conn.chain.rpc_url, conn.chain.chain_id, signer.address
        )
        self.on_record = on_record
        self._fees: tuple[float, dict[str, int]] | None = None
        self._fee_lock = threading.Lock()
        self._block_times: dict[str, int] = {}

    # -- Node ------------------------------------------------------------------------------------
    def batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        return self.conn.batch(requests)

    def sign(self, tx: dict[str, Any]) -> bytes:
        return self.signer.sign_transaction(tx)

    def fee_fields(self) -> dict[str, int]:
        with self._fee_lock:
            now = time.monotonic()
            if self._fees is None or now - self._fees[0] > _FEE_TTL_S:
                block, tip = self.conn.batch(
                    [("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])]
                )
                if "error" in block or "error" in tip:
                    detail = message_of(block.get("error") or tip.get("error"))
                    raise TxSendError("fees", None, detail)
                base = as_int(block["result"].get("baseFeePerGas") or 0)
                prio = as_int(tip["result"])
                self._fees = (now, {"maxFeePerGas": 2 * base + prio, "maxPriorityFeePerGas": prio})
            return dict(self._fees[1])

    # -- building --------------------------------------------------------------------------------
    def build(self, fn: Any, gas: int) -> dict[str, Any]:
        """The unsigned transaction (nonce filled in at send time); no RPC besides fees."""
        fees = self.fee_fields()
        with self.conn.transport():
            return dict(
                fn.build_transaction(
                    {
                        "from": self.signer.address,
                        "chainId": self.conn.chain.chain_id,
                        "gas": gas_limit(gas),
                        "nonce": 0,
                        **fees,
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

    # -- sending ---------------------------------------------------------------------------------
    def submit(
        self, function: str, args: dict[str, Any], fn: Any, on_revert: RevertMapper
    ) -> PendingTx:
        """Simulate, then sign and send with the next nonce. A nonce the node says is used is
        re-read; one held by a transaction we do not know is stepped over."""
        gas = self.simulate(fn, on_revert)
        tx = self.build(fn, gas)
        detail = ""
        for _ in range(_SEND_TRIES):
            try:
                with self.nonces.reserve(self) as nonce:
                    tx["nonce"] = nonce
                    raw = self.signer.sign_transaction(tx)
                    sent = self.conn.batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])
                    if not accepted(sent[0]):
                        raise _Refused(message_of(sent[0].get("error")))
                    item = InFlight(nonce, function, dict(tx), raw, [tx_hash_of(raw)], 0.0)
                    item.sent_at = time.monotonic()
                    self.nonces.track(item)
                return self.pending(function, args, item, on_revert)
            except _Refused as exc:
                detail = exc.detail
                lowered = detail.lower()
                if "nonce too low" in lowered:
                    continue  # the counter is re-read on the way out
                if "underpriced" in lowered or "already known" in lowered:
                    # transactions we do not track (another process, same key) hold this
                    # nonce: step past them; the pending count is a floor here, not the answer
                    self.nonces.skip(max(nonce, self._pending_count() - 1))
                    continue
                raise TxSendError(function, nonce, detail) from None
        raise TxSendError(function, None, f"no free nonce after {_SEND_TRIES} tries: {detail}")

    def _pending_count(self) -> int:
        out = self.conn.batch([("eth_getTransactionCount", [self.signer.address, "pending"])])
        return as_int(out[0]["result"]) if "result" in out[0] else 0

    def pending(
        self, function: str, args: dict[str, Any], item: InFlight, on_revert: RevertMapper
    ) -> PendingTx:
        record = TxRecord(function, args, item.tx_hash, item.nonce, hashes=list(item.hashes))
        self._emit(record)
        return PendingTx(self, record, item, on_revert)

    def _emit(self, record: TxRecord) -> None:
        if self.on_record is not None:
            self.on_record(record)


class PendingTx:
    """A sent transaction; ``wait()`` returns its ``Receipt`` or raises a typed error."""

    def __init__(
        self, owner: Transactor, record: TxRecord, item: InFlight, on_revert: RevertMapper
    ) -> None:
        self._owner = owner
        self.record = record
        self.item = item
        self._on_revert = on_revert
        item.on_change = self._sync

    @property
    def tx_hash(self) -> str:
        return self.record.tx_hash

    @property
    def nonce(self) -> int:
        return self.record.nonce

    def __repr__(self) -> str:
        return f"PendingTx({self.record.function}, {self.tx_hash}, nonce={self.nonce})"

    def _sync(self, item: InFlight) -> None:
        """The manager re-sent, re-broadcast or gave up on this nonce: mirror it."""
        rec = self.record
        rec.hashes = list(item.hashes)
        rec.tx_hash = item.tx_hash
        rec.resends = item.resends
        if item.failure is not None:
            rec.state = "replaced" if item.failure.code == "replaced" else "dropped"
            rec.error = item.failure.message
        elif item.resends:
            rec.state = "resent"
        elif item.stalled_at is not None:
            rec.state = "stalled"
        self._owner._emit(rec)

    def _finish(self, state: str, **fields: Any) -> None:
        self.record.state = state
        for key, value in fields.items():
            setattr(self.record, key, value)
        self._owner._emit(self.record)

    def poll(self) -> Receipt | None:
        """One look: the receipt of whichever version of this nonce was mined, or None;
        raises the typed error once the manager gave up on it."""
        hashes = list(self.item.hashes)
        out = self._owner.conn.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        for response in out:
            if response.get("result"):
                self._owner.nonces.done(self.item)
                return self.decode(response["result"])
        if self.item.failure is not None:
            raise self.item.failure
        return None

    def wait(self, timeout: float = 120.0, *, on_timeout: OnTimeout = "keep") -> Receipt:
        """Wait for the nonce to be mined, healing stalls meanwhile. On timeout the
        transaction stays tracked (``"keep"``) or is cancelled with a zero-value self-transfer
        at its nonce (``"cancel"``); either way ``TxReceiptTimeoutError`` says it may still be
        mined."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            receipt = self.poll()
            if receipt is not None:
                return receipt
            self._owner.nonces.maybe_heal(self._owner)
            if time.monotonic() > deadline:
                raise self.timed_out(timeout, on_timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def timed_out(self, timeout: float, on_timeout: OnTimeout = "keep") -> TxReceiptTimeoutError:
        cancel = None
        if on_timeout == "cancel":
            cancel = self._owner.nonces.cancel(self._owner, self.item)
        self._finish("cancelled" if cancel else "timeout", error="timeout")
        return TxReceiptTimeoutError(self.tx_hash, timeout, nonce=self.nonce, cancel_hash=cancel)

    def decode(self, raw: Any, timestamp: int | None = None) -> Receipt:
        """Build the ``Receipt`` from a raw receipt; a failed one raises (after replaying it
        to learn the reason)."""
        number = as_int(raw["blockNumber"])
        ts = timestamp
        if ts is None:
            ts = self._owner.block_time(_hex(raw["blockHash"]), number)
        logs = tuple(
            {**log, "blockNumber": as_int(log["blockNumber"]), "logIndex": as_int(log["logIndex"])}
            for log in raw["logs"]
        )
        events = tuple(ev for ev in (decode_log(log, ts) for log in logs) if ev is not None)
        mined_hash = _hex(raw["transactionHash"])
        receipt = Receipt(
            tx_hash=mined_hash,
            block_number=number,
            gas_used=as_int(raw["gasUsed"]),
            status=as_int(raw["status"]),
            events=events,
            block_timestamp=ts,
            nonce=self.nonce,
            sender=self.item.tx["from"],
            function=self.record.function,
            logs=logs,
            resends=self.item.resends,
        )
        self.record.tx_hash = mined_hash
        if receipt.status != 1:
            error = self._on_revert(self._replay(number), mined_hash)
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
        tx = self.item.tx
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        for block in (number - 1, number):
            try:
                with conn.transport():
                    conn.w3.eth.call(call, block)
            except ContractLogicError as exc:
                return decode_revert(exc, KNOWN_ERRORS)
        return Revert(data=None)
