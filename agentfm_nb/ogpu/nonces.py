"""Nonces for one key on one node, with the node as the truth and a healer for stalls.

Nonces are handed out by a local counter under one lock (concurrent sends from one key get
distinct, consecutive nonces; a send that fails gives its nonce back). Every sent transaction is
tracked per nonce: its unsigned fields, its signed bytes and every hash sent for it.

Nodes lose transactions. anvil, like other nodes, can park a transaction in its "queued" set for
good when the previous nonce is mined between the transaction's nonce check and its pool insert:
the node knows the hash, returns no receipt, and its pending count stops at the gap. So the
pending count is never used as the next free nonce, and ``heal()`` (run by every waiter, rate
limited) compares the tracked transactions with the node's mined count:

- the transaction at nonce == mined count, not mined for ``stall_after`` seconds (a few block
  intervals) or shown as queued by the node's ``txpool_inspect`` (sooner: a transaction at the
  account's nonce is never legitimately queued), is re-signed at the same nonce with fees bumped
  past the replacement threshold;
- tracked transactions the node forgot are broadcast again from their signed bytes;
- a nonce below tracked ones that nobody sent (a lost reservation) is filled with a zero-value
  self-transfer, so the later ones are not stuck behind a gap;
- a tracked nonce the chain used for a transaction that is not ours is marked replaced.

Waiters follow the nonce (any of its hashes may be the one mined), not one hash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from web3 import Web3

from agentfm_nb.ogpu.errors import OGPUError, TxDroppedError, TxReplacedError, TxRpcError

MIN_STALL_S = 1.0  # floor: one-block-per-transaction dev chains report ~0 s block intervals
STALL_BLOCKS = 3.0  # a ready transaction normally lands in the next block or two
HEAL_EVERY_S = 0.1  # waiters share one check of the node per interval
POOL_GRACE_S = 0.1  # a just-promoted transaction may show as queued for an instant
BUMP = 1.25  # > the 10 % replacement threshold of geth-like pools, with margin for rounding
_SAMPLE_BLOCKS = 16


class Node(Protocol):
    """What the healer needs from the sender: raw JSON-RPC batches, signing, current fees."""

    def batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]: ...

    def sign(self, tx: dict[str, Any]) -> bytes: ...

    def fee_fields(self) -> dict[str, int]: ...


def tx_hash_of(raw: bytes) -> str:
    return "0x" + bytes(Web3.keccak(raw)).hex()


def message_of(error: Any) -> str:
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


def accepted(response: dict[str, Any]) -> bool:
    """The node took the transaction, or already had exactly these bytes."""
    error = response.get("error")
    if error is None:
        return True
    text = message_of(error).lower()
    return "already known" in text or "already imported" in text


@dataclass
class InFlight:
    """One tracked nonce: the unsigned fields (current fees), the signed bytes of the newest
    version and every hash sent for it (newest last)."""

    nonce: int
    function: str
    tx: dict[str, Any]
    raw: bytes
    hashes: list[str]
    sent_at: float
    failure: OGPUError | None = None
    resends: int = 0
    rebroadcasts: int = 0
    stalled_at: float | None = None
    cancel_hash: str | None = None
    on_change: Callable[[InFlight], None] | None = field(default=None, repr=False)

    @property
    def tx_hash(self) -> str:
        return self.hashes[-1]

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)


@dataclass
class NonceBlock:
    first: int
    used: int = 0


@dataclass
class HealStats:
    stalls: int = 0
    resends: int = 0
    rebroadcasts: int = 0
    fills: int = 0
    replaced: int = 0
    dropped: int = 0


def _q(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def cancel_tx(tx: dict[str, Any], fees: dict[str, int]) -> dict[str, Any]:
    """A zero-value self-transfer at ``tx``'s nonce: takes the nonce, does nothing else."""
    return {
        "from": tx["from"],
        "to": tx["from"],
        "value": 0,
        "gas": 21_000,
        "data": "0x",
        "nonce": tx["nonce"],
        "chainId": tx["chainId"],
        **fees,
    }


def bumped(old: dict[str, Any], current: dict[str, int]) -> dict[str, int]:
    """Fees that replace ``old`` in the pool and are at least today's."""
    tip = max(int(old["maxPriorityFeePerGas"] * BUMP) + 1, current["maxPriorityFeePerGas"])
    cap = max(int(old["maxFeePerGas"] * BUMP) + 1, current["maxFeePerGas"], tip)
    return {"maxFeePerGas": cap, "maxPriorityFeePerGas": tip}


class NonceManager:
    def __init__(self, address: str, *, stall_after: float | None = None) -> None:
        self.address = address
        self._lock = threading.RLock()
        self._heal_lock = threading.Lock()
        self._next: int | None = None
        self.inflight: dict[int, InFlight] = {}
        self.issued = 0
        self.stall_after = stall_after  # None: derived from the chain's block interval
        self._derived_stall: float | None = None
        self._checked_at = 0.0
        self._mined = -1
        self._progress_at = time.monotonic()
        self._pool_checked_at = 0.0
        self._no_txpool = False
        self.stats = HealStats()

    # -- handing out nonces ----------------------------------------------------------------------
    def _counter(self, node: Node) -> int:
        if self._next is None:
            floor = max(self.inflight, default=-1) + 1
            self._next = max(self.mined_count(node), floor)
        return self._next

    @contextmanager
    def reserve(self, node: Node) -> Iterator[int]:
        """Hold the next nonce while the caller sends; it is consumed only if the block exits
        cleanly, otherwise the counter is re-read (never below a tracked nonce)."""
        with self._lock:
            nonce = self._counter(node)
            try:
                yield nonce
            except BaseException:
                self._next = None
                raise
            self._next = nonce + 1
            self.issued += 1

    @contextmanager
    def reserve_block(self, node: Node) -> Iterator[NonceBlock]:
        """Hold the lock for a batch: nonces ``first .. first + used - 1`` are consumed on a
        clean exit (the caller sets ``used`` to the contiguous prefix that reached the node)."""
        with self._lock:
            block = NonceBlock(self._counter(node))
            try:
                yield block
            except BaseException:
                self._next = None
                raise
            self._next = block.first + block.used
            self.issued += block.used

    def skip(self, nonce: int) -> None:
        """The node holds a transaction we do not know at ``nonce``: step over it."""
        with self._lock:
            self._next = max(self._next or 0, nonce + 1)

    def track(self, item: InFlight) -> None:
        with self._lock:
            self.inflight[item.nonce] = item

    def done(self, item: InFlight) -> None:
        with self._lock:
            if self.inflight.get(item.nonce) is item:
                del self.inflight[item.nonce]

    def resync(self) -> None:
        """Forget the local counter and what is tracked (after ``evm_revert`` or a restart)."""
        with self._lock:
            self._next = None
            self.inflight.clear()
            self._mined = -1
            self._derived_stall = None

    @property
    def next_nonce(self) -> int | None:
        return self._next

    # -- reading the node --------------------------------------------------------------------------
    def mined_count(self, node: Node) -> int:
        out = node.batch([("eth_getTransactionCount", [self.address, "latest"])])[0]
        if "error" in out:
            raise TxRpcError(f"eth_getTransactionCount: {message_of(out['error'])}")
        return _q(out["result"])

    def stall_limit(self, node: Node) -> float:
        """Seconds a ready transaction may wait before it counts as stalled: a few block
        intervals of this chain (measured once), never under ``MIN_STALL_S``."""
        if self.stall_after is not None:
            return self.stall_after
        if self._derived_stall is None:
            head = node.batch([("eth_getBlockByNumber", ["latest", False])])[0].get("result")
            interval = 0.0
            if head:
                number = _q(head["number"])
                back = min(_SAMPLE_BLOCKS, number)
                if back:
                    old = node.batch([("eth_getBlockByNumber", [hex(number - back), False])])
                    if old[0].get("result"):
                        span = _q(head["timestamp"]) - _q(old[0]["result"]["timestamp"])
                        interval = span / back
            self._derived_stall = max(MIN_STALL_S, STALL_BLOCKS * interval)
        return self._derived_stall

    # -- healing -----------------------------------------------------------------------------------
    def maybe_heal(self, node: Node, *, force: bool = False) -> None:
        """Run ``heal`` at most once per ``HEAL_EVERY_S`` across all waiters of this key."""
        now = time.monotonic()
        if not force and now - self._checked_at < HEAL_EVERY_S:
            return
        if not self._heal_lock.acquire(blocking=False):
            return
        try:
            self._checked_at = now
            self.heal(node)
        finally:
            self._heal_lock.release()

    def heal(self, node: Node) -> None:
        with self._lock:
            if not self.inflight:
                return
            mined = self.mined_count(node)
            now = time.monotonic()
            if mined != self._mined:
                self._mined = mined
                self._progress_at = now
            self._mark_replaced(node, mined)
            if self._next is not None and mined > self._next:
                self._next = mined  # somebody else used this key: move past their nonces
            item = self.inflight.get(mined)
            since = max(self._progress_at, item.sent_at if item else 0.0)
            if not any(n >= mined for n in self.inflight):
                return
            age, limit = now - since, self.stall_limit(node)
            if age < limit and not (item is not None and self._parked(node, mined, age, limit)):
                return
            self.stats.stalls += 1
            self._progress_at = now  # one repair per stall period
            again = self._rebroadcast_forgotten(node, mined)
            item = self.inflight.get(mined)
            if item is None:
                self._fill(node, mined)
            elif item.failure is None and item.cancel_hash is None and item not in again:
                self._resend(node, item, now)

    def _parked(self, node: Node, nonce: int, age: float, limit: float) -> bool:
        """Before the time limit: does the pool show our next-to-mine transaction queued (a
        transaction at the account's nonce is never legitimately queued) or gone? Asked at
        most every ``limit / 8`` s; nodes without ``txpool_inspect`` wait for the limit."""
        now = time.monotonic()
        if self._no_txpool or age < POOL_GRACE_S or now - self._pool_checked_at < limit / 8:
            return False
        self._pool_checked_at = now
        out = node.batch([("txpool_inspect", [])])[0]
        result = out.get("result")
        if not isinstance(result, dict):
            self._no_txpool = True
            return False
        mine = self.address.lower()
        pending = {k.lower(): v for k, v in (result.get("pending") or {}).items()}.get(mine, {})
        queued = {k.lower(): v for k, v in (result.get("queued") or {}).items()}.get(mine, {})
        key = str(nonce)
        return key in queued or key not in pending

    def _mark_replaced(self, node: Node, mined: int) -> None:
        """Tracked nonces below the mined count whose hashes have no receipt: the chain used
        them for a transaction that is not ours."""
        old = [it for n, it in self.inflight.items() if n < mined and it.failure is None]
        if not old:
            return
        pairs = [(it, h) for it in old for h in it.hashes]
        out = node.batch([("eth_getTransactionReceipt", [h]) for _, h in pairs])
        landed = {id(it) for (it, _), r in zip(pairs, out, strict=True) if r.get("result")}
        for it in old:
            del self.inflight[it.nonce]  # settled either way: the waiter holds the item
            if id(it) not in landed:
                it.failure = TxReplacedError(it.tx_hash, it.nonce)
                self.stats.replaced += 1
                it.changed()

    def _rebroadcast_forgotten(self, node: Node, mined: int) -> list[InFlight]:
        """Send again, from their signed bytes, the tracked transactions the node no longer
        knows (a dropped nonce takes its dependants with it). Returns the ones sent."""
        live = [
            it
            for n, it in sorted(self.inflight.items())
            if n >= mined and not it.failure and not it.cancel_hash
        ]
        if not live:
            return []
        seen = node.batch([("eth_getTransactionByHash", [it.tx_hash]) for it in live])
        lost = [it for it, r in zip(live, seen, strict=True) if not r.get("result")]
        if not lost:
            return []
        sent = node.batch([("eth_sendRawTransaction", ["0x" + it.raw.hex()]) for it in lost])
        for it, response in zip(lost, sent, strict=True):
            if accepted(response):
                it.rebroadcasts += 1
                it.sent_at = time.monotonic()
                self.stats.rebroadcasts += 1
                it.changed()
                continue
            detail = message_of(response.get("error"))
            if "nonce too low" in detail.lower():
                continue  # mined meanwhile: the waiter finds its receipt
            it.failure = TxDroppedError(
                it.tx_hash,
                it.nonce,
                f"transaction {it.tx_hash} (nonce {it.nonce}) was dropped by the node and "
                f"refused when sent again: {detail}",
            )
            self.stats.dropped += 1
            del self.inflight[it.nonce]
            it.changed()
            if any(n > it.nonce for n in self.inflight):
                self._fill(node, it.nonce)
            elif self._next is not None and self._next > it.nonce:
                self._next = it.nonce  # the top nonce is free again: no gap to fill
        return [it for it in lost if it.failure is None]

    def _fill(self, node: Node, nonce: int) -> None:
        """Take an untracked nonce below tracked ones with a zero-value self-transfer."""
        above = [it for n, it in self.inflight.items() if n > nonce]
        if self._next is None or nonce >= self._next or not above:
            return
        upper = min(above, key=lambda i: i.nonce)
        tx = cancel_tx({**upper.tx, "nonce": nonce}, bumped(upper.tx, node.fee_fields()))
        raw = node.sign(tx)
        response = node.batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])[0]
        if accepted(response):
            self.stats.fills += 1
            self.track(InFlight(nonce, "cancel", tx, raw, [tx_hash_of(raw)], time.monotonic()))

    def _resend(self, node: Node, item: InFlight, now: float) -> None:
        """Re-sign the stalled transaction at the same nonce with bumped fees."""
        tx = {**item.tx, **bumped(item.tx, node.fee_fields())}
        raw = node.sign(tx)
        response = node.batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])[0]
        item.stalled_at = item.stalled_at or now
        if accepted(response):
            item.tx, item.raw = tx, raw
            item.hashes.append(tx_hash_of(raw))
            item.resends += 1
            item.sent_at = now
            self.stats.resends += 1
        item.changed()

    def cancel(self, node: Node, item: InFlight) -> str | None:
        """Replace ``item`` in the pool by a zero-value self-transfer at its nonce. ``item``
        stays tracked (it may still be mined; if the cancel is, it is reported replaced) and is
        no longer re-sent. Returns the cancel's hash, or None when the node refused it."""
        with self._lock:
            tx = cancel_tx(item.tx, bumped(item.tx, node.fee_fields()))
            raw = node.sign(tx)
            response = node.batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])[0]
            if not accepted(response):
                return None
            item.cancel_hash = tx_hash_of(raw)
            return item.cancel_hash


_registry: dict[tuple[str, int, str], NonceManager] = {}
_registry_lock = threading.Lock()


def shared_manager(rpc_url: str, chain_id: int, address: str) -> NonceManager:
    """The process-wide manager for one key on one node: separate ``Agent`` objects and the
    module-level functions must not hand out the same nonce twice."""
    key = (rpc_url, chain_id, address.lower())
    with _registry_lock:
        manager = _registry.get(key)
        if manager is None:
            manager = _registry[key] = NonceManager(address)
        return manager


def managers_for(address: str) -> list[NonceManager]:
    with _registry_lock:
        return [m for (_, _, a), m in _registry.items() if a == address.lower()]


def reset_all() -> None:
    """Re-sync every manager from its node and forget set stall limits (after ``evm_revert``
    or a node restart)."""
    with _registry_lock:
        managers = list(_registry.values())
    for manager in managers:
        manager.resync()
        manager.stall_after = None
