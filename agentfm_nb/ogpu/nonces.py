"""Local nonce management: one counter per (node, chain, address), shared by every caller.

A nonce is taken and the transaction sent under one lock, so concurrent sends from one key get
distinct, consecutive nonces and a failed send gives its nonce back (no gaps). The counter is
re-read from the node's pending count whenever something unexpected happens.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class NonceBlock:
    first: int
    used: int = 0


class NonceManager:
    def __init__(self, fetch_pending_count: Callable[[], int]) -> None:
        self._fetch = fetch_pending_count
        self._lock = threading.Lock()
        self._next: int | None = None
        self.issued = 0

    @contextmanager
    def reserve(self) -> Iterator[int]:
        """Hold the next nonce while the caller sends; it is consumed only if the block exits
        cleanly, otherwise the counter is re-synced from the node."""
        with self._lock:
            if self._next is None:
                self._next = self._fetch()
            nonce = self._next
            try:
                yield nonce
            except BaseException:
                self._next = None
                raise
            self._next = nonce + 1
            self.issued += 1

    @contextmanager
    def reserve_block(self) -> Iterator[NonceBlock]:
        """Hold the lock for a batch: nonces ``first .. first + used - 1`` are consumed on a
        clean exit (the caller sets ``used`` to the contiguous prefix that reached the node)."""
        with self._lock:
            if self._next is None:
                self._next = self._fetch()
            block = NonceBlock(self._next)
            try:
                yield block
            except BaseException:
                self._next = None
                raise
            self._next = block.first + block.used
            self.issued += block.used

    def resync(self) -> None:
        """Forget the local counter (after a dropped or replaced transaction)."""
        with self._lock:
            self._next = None

    @property
    def next_nonce(self) -> int | None:
        return self._next


_registry: dict[tuple[str, int, str], NonceManager] = {}
_registry_lock = threading.Lock()


def shared_manager(
    rpc_url: str, chain_id: int, address: str, fetch_pending_count: Callable[[], int]
) -> NonceManager:
    """The process-wide manager for one key on one node: separate ``Agent`` objects and the
    module-level functions must not hand out the same nonce twice."""
    key = (rpc_url, chain_id, address.lower())
    with _registry_lock:
        manager = _registry.get(key)
        if manager is None:
            manager = _registry[key] = NonceManager(fetch_pending_count)
        return manager


def reset_all() -> None:
    """Re-sync every manager from its node (after ``evm_revert`` or a node restart)."""
    with _registry_lock:
        managers = list(_registry.values())
    for manager in managers:
        manager.resync()
