"""Nonce recovery tools with the ``ogpu`` SDK's names: ``fix_nonce``, ``reset_nonce_cache``,
``get_nonce_info``, ``clear_all_nonce_caches``.

They act on this process's nonce managers and the node; the key falls back to
``AGENT_PRIVATE_KEY`` (this package signs as the agent role) and the chain to ``OGPU_*``.
"""

from __future__ import annotations

import time
from typing import Any

from web3 import Web3

from agentfm_nb.ogpu.chain import ChainConfig
from agentfm_nb.ogpu.errors import TxReceiptTimeoutError
from agentfm_nb.ogpu.nonces import (
    NonceManager,
    accepted,
    bumped,
    cancel_tx,
    managers_for,
    reset_all,
    shared_manager,
)
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.signer import KeyLike, Signer
from agentfm_nb.ogpu.tx import Transactor

__all__ = ["clear_all_nonce_caches", "fix_nonce", "get_nonce_info", "reset_nonce_cache"]


def _address(address: str | None, private_key: KeyLike | None) -> str:
    if address is not None:
        return Web3.to_checksum_address(address)
    return Signer.resolve(private_key).address


def _manager(conn: Connection, address: str) -> NonceManager:
    return shared_manager(conn.chain.rpc_url, conn.chain.chain_id, address)


def get_nonce_info(
    address: str | None = None,
    private_key: KeyLike | None = None,
    *,
    chain: ChainConfig | None = None,
) -> dict[str, Any]:
    """The SDK's keys (``address``, ``mined_nonce``, ``pending_nonce``, ``cached_nonce``,
    ``has_pending``, ``pending_count``) plus what this process tracks: ``tracked`` (one entry
    per in-flight nonce with its state and every hash sent), ``stalled`` and heal counters."""
    addr = _address(address, private_key)
    conn = Connection(chain or ChainConfig.from_env())
    counts = conn.batch(
        [
            ("eth_getTransactionCount", [addr, "latest"]),
            ("eth_getTransactionCount", [addr, "pending"]),
        ]
    )
    mined, pending = (int(c["result"], 16) for c in counts)
    manager = _manager(conn, addr)
    tracked = [
        {
            "nonce": it.nonce,
            "function": it.function,
            "state": (
                "dropped/replaced"
                if it.failure
                else "resent"
                if it.resends
                else "stalled"
                if it.stalled_at
                else "pending"
            ),
            "hashes": list(it.hashes),
            "resends": it.resends,
        }
        for _, it in sorted(manager.inflight.items())
        if it.nonce >= mined  # below: settled, dropped from tracking at the next heal
    ]
    stats = manager.stats
    return {
        "address": addr,
        "mined_nonce": mined,
        "pending_nonce": pending,
        "cached_nonce": manager.next_nonce,
        "has_pending": pending > mined or bool(tracked),
        "pending_count": max(pending, max(manager.inflight, default=mined - 1) + 1) - mined,
        "tracked": tracked,
        "stalled": any(t["nonce"] == mined and t["state"] != "pending" for t in tracked),
        "heals": {
            "stalls": stats.stalls,
            "resends": stats.resends,
            "rebroadcasts": stats.rebroadcasts,
            "fills": stats.fills,
        },
    }


def reset_nonce_cache(address: str | None = None, private_key: KeyLike | None = None) -> None:
    """Forget the local counter and tracked transactions of one key (no chain access): the
    next send re-reads the node."""
    for manager in managers_for(_address(address, private_key)):
        manager.resync()


def clear_all_nonce_caches() -> None:
    """``reset_nonce_cache`` for every key in this process."""
    reset_all()


def fix_nonce(
    address: str | None = None,
    private_key: KeyLike | None = None,
    *,
    chain: ChainConfig | None = None,
    timeout: float = 60.0,
) -> int:
    """Cancel every nonce between the mined count and the highest one in flight (the node's
    pending count or this process's tracked ones, whichever is higher) with zero-value
    self-transfers at bumped fees, wait until they are mined, reset the cache and return the
    next free nonce. Costs gas for each cancel."""
    signer = Signer.resolve(private_key)
    if address is not None and Web3.to_checksum_address(address) != signer.address:
        raise ValueError("fix_nonce signs cancels: address must be the private key's address")
    conn = Connection(chain or ChainConfig.from_env())
    conn.ensure_chain_id()
    sender = Transactor(conn, signer)
    manager = sender.nonces
    mined = manager.mined_count(sender)
    pending = int(
        conn.batch([("eth_getTransactionCount", [signer.address, "pending"])])[0]["result"], 16
    )
    top = max(pending, max(manager.inflight, default=-1) + 1)
    current = sender.fee_fields()
    # highest first: a cancel at the lowest nonce lets the node promote whatever waits above it
    for nonce in reversed(range(mined, top)):
        tracked = manager.inflight.get(nonce)
        base = {"from": signer.address, "nonce": nonce, "chainId": conn.chain.chain_id}
        fees = bumped(tracked.tx, current) if tracked else bumped({**current}, current)
        raw = signer.sign_transaction(cancel_tx(base, fees))
        accepted(conn.batch([("eth_sendRawTransaction", ["0x" + raw.hex()])])[0])
    deadline = time.monotonic() + timeout
    while manager.mined_count(sender) < top:
        if time.monotonic() > deadline:
            raise TxReceiptTimeoutError(f"cancels for nonces {mined}..{top - 1}", timeout)
        time.sleep(0.05)
    manager.heal(sender)  # tracked nonces the cancels took are reported replaced to waiters
    manager.resync()
    return manager.mined_count(sender)
