"""Many sends in a few round trips: simulate, send and wait through JSON-RPC batch requests.

The rules of the one-at-a-time path hold for every transaction: each call is simulated
(``eth_estimateGas``) before anything is signed, and one that reverts gets its typed error and no
nonce; the others get consecutive nonces under the key's nonce lock and go out in one batch. A
send the node refuses is retried alone once; if later ones of the same batch already reached the
node, its nonce is filled with a zero-value self-transfer so they are not stuck behind a gap.
Receipts are polled in batches (every hash sent for each nonce: a stalled one may have been
re-sent), each block's timestamp is fetched once, and the key's nonce manager heals stalls
between polls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3.exceptions import ContractLogicError

from agentfm_nb.ogpu.abi import KNOWN_ERRORS
from agentfm_nb.ogpu.errors import OGPUError, TxRpcError, TxSendError
from agentfm_nb.ogpu.nonces import InFlight, accepted, cancel_tx, message_of, tx_hash_of
from agentfm_nb.ogpu.revert import decode_revert
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.tx import PendingTx, Receipt, RevertMapper, Transactor, as_int, gas_limit

CHUNK = 100  # requests per HTTP batch: bounded payloads, still ~100x fewer round trips


@dataclass(frozen=True)
class Call:
    """One contract call to send: the name and arguments shown in records and errors."""

    function: str
    args: dict[str, Any]
    fn: Any
    on_revert: RevertMapper


def _batched(conn: Connection, requests: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for start in range(0, len(requests), CHUNK):
        out.extend(conn.batch(requests[start : start + CHUNK]))
    return out


def _simulation_error(call: Call, error: Any) -> OGPUError:
    message = message_of(error)
    data = error.get("data") if isinstance(error, dict) else None
    if (isinstance(error, dict) and error.get("code") == 3) or "revert" in message.lower():
        exc = ContractLogicError(message, data=data if isinstance(data, str) else None)
        return call.on_revert(decode_revert(exc, KNOWN_ERRORS), None)
    return TxSendError(call.function, None, message)


def submit_many(owner: Transactor, calls: Sequence[Call]) -> list[PendingTx | OGPUError]:
    """Simulate and send ``calls`` in order; one ``PendingTx`` or typed error per call. A lost
    connection or a failing node ends the run: the calls not yet sent get that error."""
    owner.conn.ensure_chain_id()  # once per connection (re-checked after a transport error)
    out: list[PendingTx | OGPUError] = []
    for start in range(0, len(calls), CHUNK):
        try:
            out.extend(_submit_chunk(owner, calls[start : start + CHUNK]))
        except TxRpcError as exc:
            out.extend(exc for _ in range(len(calls) - len(out)))
            break
    return out


def _submit_chunk(owner: Transactor, calls: Sequence[Call]) -> list[PendingTx | OGPUError]:
    sender = owner.signer.address
    unsigned = [owner.build(call.fn, 0) for call in calls]  # fee fields: one cached read
    sims = owner.conn.batch(
        [
            (
                "eth_estimateGas",
                [{"from": sender, "to": tx["to"], "data": tx["data"], "value": hex(tx["value"])}],
            )
            for tx in unsigned
        ]
    )
    results: list[PendingTx | OGPUError | None] = [None] * len(calls)
    ready: list[int] = []
    for i, sim in enumerate(sims):
        if "error" in sim:
            results[i] = _simulation_error(calls[i], sim["error"])
        else:
            unsigned[i]["gas"] = gas_limit(as_int(sim["result"]))
            ready.append(i)
    sent = _send(owner, [unsigned[i] for i in ready], calls, ready)
    for i, outcome in zip(ready, sent, strict=True):
        results[i] = outcome
    return [r for r in results if r is not None]


class _StaleNonce(Exception):
    """Another user of this key moved its nonce: the whole batch was refused."""


def _send(
    owner: Transactor, txs: list[dict[str, Any]], calls: Sequence[Call], index: list[int]
) -> list[PendingTx | OGPUError]:
    if not txs:
        return []
    try:
        return _send_once(owner, txs, calls, index)
    except _StaleNonce:  # the nonce manager re-read the node on the way out: sign again, once
        return _send_once(owner, txs, calls, index, last_try=True)


def _send_once(
    owner: Transactor,
    txs: list[dict[str, Any]],
    calls: Sequence[Call],
    index: list[int],
    *,
    last_try: bool = False,
) -> list[PendingTx | OGPUError]:
    items: dict[int, InFlight] = {}
    with owner.nonces.reserve_block(owner) as block:
        raws: list[bytes] = []
        for k, tx in enumerate(txs):
            tx["nonce"] = block.first + k
            raws.append(owner.signer.sign_transaction(tx))
        sent = owner.conn.batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws])
        ok = [accepted(r) for r in sent]
        if not any(ok) and not last_try and "nonce" in message_of(sent[0].get("error")).lower():
            raise _StaleNonce
        refused: dict[int, str] = {}
        for k, good in enumerate(ok):
            if not good:
                retry = owner.conn.batch([("eth_sendRawTransaction", ["0x" + raws[k].hex()])])
                ok[k] = accepted(retry[0])
                if not ok[k]:
                    refused[k] = message_of(retry[0].get("error"))
        last = max((k for k, good in enumerate(ok) if good), default=-1)
        for k in range(last):
            if not ok[k] and not _fill_gap(owner, txs[k]):
                last = k - 1  # the queued later ones wait for whoever sends nonce k next
                break
        block.used = last + 1
        now = time.monotonic()
        for k in range(last + 1):
            if ok[k]:
                tx = txs[k]
                items[k] = InFlight(
                    tx["nonce"], calls[index[k]].function, tx, raws[k], [tx_hash_of(raws[k])], now
                )
                owner.nonces.track(items[k])
    out: list[PendingTx | OGPUError] = []
    for k, tx in enumerate(txs):
        call = calls[index[k]]
        if k in items:
            out.append(owner.pending(call.function, call.args, items[k], call.on_revert))
        else:
            out.append(TxSendError(call.function, tx["nonce"], refused.get(k, "refused")))
    return out


def _fill_gap(owner: Transactor, tx: dict[str, Any]) -> bool:
    """Use ``tx``'s nonce for a zero-value self-transfer so the later nonces can be mined."""
    filler = cancel_tx(tx, {k: tx[k] for k in ("maxFeePerGas", "maxPriorityFeePerGas")})
    raw = owner.signer.sign_transaction(filler)
    if not accepted(owner.conn.batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])[0]):
        return False
    owner.nonces.track(
        InFlight(tx["nonce"], "cancel", filler, raw, [tx_hash_of(raw)], time.monotonic())
    )
    return True


def wait_many(
    owner: Transactor, items: Sequence[PendingTx | OGPUError], timeout: float
) -> list[Receipt | OGPUError]:
    """Wait for every ``PendingTx`` (errors pass through): one batch of receipt polls per
    round (every hash sent for each nonce), one block read per block, the nonce manager's
    healer in between."""
    results: list[Receipt | OGPUError | None] = [
        item if isinstance(item, OGPUError) else None for item in items
    ]
    waiting = {i: item for i, item in enumerate(items) if isinstance(item, PendingTx)}
    deadline = time.monotonic() + timeout
    delay = 0.002
    try:
        while waiting:
            _collect(owner, waiting, results)
            if not waiting:
                break
            owner.nonces.maybe_heal(owner)
            for i in [i for i, p in waiting.items() if p.item.failure is not None]:
                failure = waiting.pop(i).item.failure
                assert failure is not None
                results[i] = failure
            if waiting and time.monotonic() > deadline:
                for i, pending in waiting.items():
                    results[i] = pending.timed_out(timeout)
                waiting.clear()
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    except OGPUError as exc:  # the node went away: keep what was already decided
        for i in waiting:
            results[i] = exc
    return [r if r is not None else OGPUError("no outcome") for r in results]


def _collect(
    owner: Transactor, waiting: dict[int, PendingTx], results: list[Receipt | OGPUError | None]
) -> None:
    asks = [(i, h) for i, p in waiting.items() for h in list(p.item.hashes)]
    raws = _batched(owner.conn, [("eth_getTransactionReceipt", [h]) for _, h in asks])
    found: dict[int, Any] = {}
    for (i, _), r in zip(asks, raws, strict=True):
        if r.get("result"):
            found[i] = r["result"]
    missing = sorted({str(raw["blockHash"]) for raw in found.values()} - set(owner._block_times))
    for block in _batched(owner.conn, [("eth_getBlockByHash", [h, False]) for h in missing]):
        if block.get("result"):
            owner.remember_block(str(block["result"]["hash"]), as_int(block["result"]["timestamp"]))
    for i, raw in found.items():
        pending = waiting.pop(i)
        owner.nonces.done(pending.item)
        try:
            results[i] = pending.decode(raw, owner._block_times.get(str(raw["blockHash"])))
        except OGPUError as exc:
            results[i] = exc
