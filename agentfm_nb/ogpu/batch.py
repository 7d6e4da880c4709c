"""Many sends in a few round trips: simulate, send and wait through JSON-RPC batch requests.

The rules of the one-at-a-time path hold for every transaction: each call is simulated
(``eth_estimateGas``) before anything is signed, and one that reverts gets its typed error and no
nonce; the others get consecutive nonces under the key's nonce lock and go out in one batch. A
send the node refuses is retried alone once; if later ones of the same batch already reached the
node, its nonce is filled with a zero-value self-transfer so they are not stuck behind a gap.
Receipts are polled in batches and each block's timestamp is fetched once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.exceptions import ContractLogicError

from agentfm_nb.ogpu.abi import KNOWN_ERRORS
from agentfm_nb.ogpu.errors import ChainConnectionError, OGPUError, TxSendError, decode_revert
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.tx import (
    PendingTx,
    Receipt,
    RevertMapper,
    Transactor,
    TxRecord,
    as_int,
    gas_limit,
)

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


def _message(error: Any) -> str:
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


def _simulation_error(call: Call, error: Any) -> OGPUError:
    message = _message(error)
    data = error.get("data") if isinstance(error, dict) else None
    if (isinstance(error, dict) and error.get("code") == 3) or "revert" in message.lower():
        exc = ContractLogicError(message, data=data if isinstance(data, str) else None)
        return call.on_revert(decode_revert(exc, KNOWN_ERRORS), None)
    return TxSendError(call.function, None, message)


def _accepted(response: dict[str, Any]) -> bool:
    error = response.get("error")
    return error is None or "already known" in _message(error).lower()


def submit_many(owner: Transactor, calls: Sequence[Call]) -> list[PendingTx | OGPUError]:
    """Simulate and send ``calls`` in order; one ``PendingTx`` or typed error per call. A lost
    connection ends the run: the calls not yet sent get the ``ChainConnectionError``."""
    owner.conn.ensure_chain_id()  # once per connection (re-checked after a transport error)
    out: list[PendingTx | OGPUError] = []
    for start in range(0, len(calls), CHUNK):
        try:
            out.extend(_submit_chunk(owner, calls[start : start + CHUNK]))
        except ChainConnectionError as exc:
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
    except _StaleNonce:  # the nonce manager re-synced on the way out: sign again, once
        return _send_once(owner, txs, calls, index, last_try=True)


def _send_once(
    owner: Transactor,
    txs: list[dict[str, Any]],
    calls: Sequence[Call],
    index: list[int],
    *,
    last_try: bool = False,
) -> list[PendingTx | OGPUError]:
    with owner.nonces.reserve_block() as block:
        raws: list[bytes] = []
        for k, tx in enumerate(txs):
            tx["nonce"] = block.first + k
            raws.append(owner.signer.sign_transaction(tx))
        sent = owner.conn.batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws])
        ok = [_accepted(r) for r in sent]
        if not any(ok) and not last_try and "nonce" in _message(sent[0].get("error")).lower():
            raise _StaleNonce
        refused: dict[int, str] = {}
        for k, good in enumerate(ok):
            if not good:
                retry = owner.conn.batch([("eth_sendRawTransaction", ["0x" + raws[k].hex()])])
                ok[k] = _accepted(retry[0])
                if not ok[k]:
                    refused[k] = _message(retry[0].get("error"))
        last = max((k for k, good in enumerate(ok) if good), default=-1)
        for k in range(last):
            if not ok[k] and not _fill_gap(owner, txs[k]):
                last = k - 1  # the queued later ones wait for whoever sends nonce k next
                break
        block.used = last + 1
    out: list[PendingTx | OGPUError] = []
    for k, (tx, raw) in enumerate(zip(txs, raws, strict=True)):
        call = calls[index[k]]
        if ok[k]:
            tx_hash = "0x" + bytes(Web3.keccak(raw)).hex()
            record = TxRecord(call.function, call.args, tx_hash, tx["nonce"])
            owner._emit(record)
            out.append(PendingTx(owner, record, tx, call.on_revert))
        else:
            out.append(TxSendError(call.function, tx["nonce"], refused.get(k, "refused")))
    return out


def _fill_gap(owner: Transactor, tx: dict[str, Any]) -> bool:
    """Use ``tx``'s nonce for a zero-value self-transfer so the later nonces can be mined."""
    filler = {
        "from": tx["from"],
        "to": tx["from"],
        "value": 0,
        "gas": 21_000,
        "nonce": tx["nonce"],
        "chainId": tx["chainId"],
        "maxFeePerGas": tx["maxFeePerGas"],
        "maxPriorityFeePerGas": tx["maxPriorityFeePerGas"],
    }
    raw = owner.signer.sign_transaction(filler)
    return _accepted(owner.conn.batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])[0])


def wait_many(
    owner: Transactor, items: Sequence[PendingTx | OGPUError], timeout: float
) -> list[Receipt | OGPUError]:
    """Wait for every ``PendingTx`` (errors pass through): one batch of receipt polls per
    round, one block read per block, dropped/replaced checks every fifth round."""
    results: list[Receipt | OGPUError | None] = [
        item if isinstance(item, OGPUError) else None for item in items
    ]
    waiting = {i: item for i, item in enumerate(items) if isinstance(item, PendingTx)}
    deadline = time.monotonic() + timeout
    delay, polls = 0.002, 0
    try:
        while waiting:
            _collect(owner, waiting, results)
            if not waiting:
                break
            polls += 1
            if polls % 5 == 0:
                _check_lost(owner, waiting, results)
            if waiting and time.monotonic() > deadline:
                for i, pending in waiting.items():
                    results[i] = pending._timed_out(timeout)
                waiting.clear()
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    except ChainConnectionError as exc:
        for i in waiting:  # keep what was already decided
            results[i] = exc
    return [r if r is not None else OGPUError("no outcome") for r in results]


def _collect(
    owner: Transactor,
    waiting: dict[int, PendingTx],
    results: list[Receipt | OGPUError | None],
    only: Sequence[int] | None = None,
) -> None:
    idx = list(waiting if only is None else only)
    raws = _batched(owner.conn, [("eth_getTransactionReceipt", [waiting[i].tx_hash]) for i in idx])
    found = {i: r["result"] for i, r in zip(idx, raws, strict=True) if r.get("result")}
    missing = sorted({str(raw["blockHash"]) for raw in found.values()} - set(owner._block_times))
    for block in _batched(owner.conn, [("eth_getBlockByHash", [h, False]) for h in missing]):
        if block.get("result"):
            owner.remember_block(str(block["result"]["hash"]), as_int(block["result"]["timestamp"]))
    for i, raw in found.items():
        pending = waiting.pop(i)
        try:
            results[i] = pending._decode(raw, owner._block_times.get(str(raw["blockHash"])))
        except OGPUError as exc:
            results[i] = exc


def _check_lost(
    owner: Transactor, waiting: dict[int, PendingTx], results: list[Receipt | OGPUError | None]
) -> None:
    idx = list(waiting)
    seen = _batched(owner.conn, [("eth_getTransactionByHash", [waiting[i].tx_hash]) for i in idx])
    gone = [
        i for i, r in zip(idx, seen, strict=True) if "error" not in r and r.get("result") is None
    ]
    if not gone:
        return
    _collect(owner, waiting, results, only=gone)  # mined between the two reads?
    gone = [i for i in gone if i in waiting]
    if not gone:
        return
    count = owner.conn.batch([("eth_getTransactionCount", [owner.signer.address, "latest"])])
    mined = as_int(count[0]["result"])
    for i in gone:
        results[i] = waiting.pop(i)._lost(mined)
