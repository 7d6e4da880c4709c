"""The peers of one scatter: what a peer description means, slot accounting, least-loaded choice.

The least-loaded free peer comes off a lazily updated heap (a peer whose load changed is pushed
again with a new version; stale entries are skipped when they surface), so each choice costs
O(log p) for p peers.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

# The SDK's default when the peers' capacity is unknown (plain peer id strings).
UNKNOWN_CAPACITY_CONCURRENCY = 8
# Slots assumed per bare peer id when no max_concurrency is given (the gateway's own default
# worker size); a worker's in-band capacity refusal then tells its real size.
UNKNOWN_PEER_SLOTS = 4


def _default_max_inflight() -> int:
    """With no max_concurrency, at most this many attempts run at once, however many slots the
    peers have. Each one holds a socket, so stay well inside the process's file limit (macOS
    starts at 256, Linux at 1,024). Measured (bench_client.py scale point, 256 workers x 4
    slots, zero-work tasks, our own HTTP/1.1 pools): client CPU per task 0.15-0.18 ms at 64 in
    flight, 0.18-0.23 ms at 512 and 1,024, no capacity refusals."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 512
    if soft == resource.RLIM_INFINITY:
        return 512
    return max(16, min(512, soft // 2))


DEFAULT_MAX_INFLIGHT = _default_max_inflight()
_UNKNOWN_CAPACITY_SCALE = 1e6


class PeerLike(Protocol):
    @property
    def peer_id(self) -> str: ...
    @property
    def max_tasks(self) -> int: ...
    @property
    def current_tasks(self) -> int: ...


PeerSpec = PeerLike | str
PeersSource = Sequence[PeerSpec] | Callable[[], Awaitable[Sequence[PeerSpec]]]


class Peer:
    __slots__ = ("alive", "cap", "inflight", "peer_id", "version")

    def __init__(self, peer_id: str, cap: int | None) -> None:
        self.peer_id = peer_id
        self.cap = cap  # None: capacity unknown, only the global limit applies
        self.inflight = 0
        self.alive = True
        self.version = 0

    def load(self) -> float:
        if self.cap is None:
            # Unknown capacity sorts before any capped peer that is full, spread by in-flight.
            return self.inflight / _UNKNOWN_CAPACITY_SCALE
        return self.inflight / self.cap if self.cap else float("inf")

    def has_room(self) -> bool:
        return self.alive and (self.cap is None or self.inflight < self.cap)


def peer_fields(p: PeerSpec) -> tuple[str, int | None, bool]:
    """(peer id, free slots or None when unknown, online) of a peer description."""
    if isinstance(p, str):
        return p, None, True
    peer_id = str(p.peer_id)
    max_tasks = getattr(p, "max_tasks", None)
    online = bool(getattr(p, "online", True))
    if not isinstance(max_tasks, int) or max_tasks <= 0:
        return peer_id, None, online
    current = getattr(p, "current_tasks", 0)
    current = current if isinstance(current, int) else 0
    return peer_id, max(max_tasks - current, 0), online


class PeerPool:
    """Known peers, their free slots, and ``limit``: how many attempts may run at once."""

    def __init__(self, max_concurrency: int | None) -> None:
        self._max_concurrency = max_concurrency
        # bare ids get a guessed size only when the caller set no global limit
        self._guess = UNKNOWN_PEER_SLOTS if max_concurrency is None else None
        self._peers: dict[str, Peer] = {}
        self._heap: list[tuple[float, int, int, Peer]] = []
        self._seq = itertools.count()
        self.limit = 1

    def __len__(self) -> int:
        return len(self._peers)

    def update(self, listed: Sequence[PeerSpec], *, initial: bool) -> None:
        """Take a (re-)listing: new peers join, missing ones die, returning ones revive."""
        seen: set[str] = set()
        fresh: list[tuple[str, int | None]] = []
        for spec in listed:
            peer_id, free, online = peer_fields(spec)
            if peer_id in seen or not online:
                continue
            seen.add(peer_id)
            known = self._peers.get(peer_id)
            if known is None:
                fresh.append((peer_id, free))
            elif not known.alive:
                known.alive = True
                self.touch(known)
        for peer in self._peers.values():
            if peer.peer_id not in seen and peer.alive:
                peer.alive = False
                peer.version += 1
        if initial and fresh and all(f == 0 for _, f in fresh):
            # Every worker is busy right now: use their full size and let the gateway say 503
            # (a retryable failure) rather than never dispatching at all.
            sizes = {str(s.peer_id): s.max_tasks for s in listed if not isinstance(s, str)}
            fresh = [(pid, sizes.get(pid) or None) for pid, _ in fresh]
        for peer_id, free in fresh:
            peer = Peer(peer_id, self._guess if free is None else free)
            self._peers[peer_id] = peer
            self.touch(peer)
        self.limit = self._concurrency_limit()

    def _concurrency_limit(self) -> int:
        if self._max_concurrency is not None:
            return self._max_concurrency
        alive = [p for p in self._peers.values() if p.alive]
        sized = sum(p.cap or 0 for p in alive)
        if any(p.cap is None for p in alive):
            sized = max(UNKNOWN_CAPACITY_CONCURRENCY, sized)
        return max(1, min(sized, DEFAULT_MAX_INFLIGHT))

    def learn(self, peer: Peer, max_tasks: int | None) -> None:
        """The worker refused a task for capacity, saying its size ``max_tasks`` (``m`` of the
        refusal's ``(n/m)``): never hold more than that on it.

        Nothing smaller is inferred: a refusal also happens when a slot was reused before the
        gateway had released it, or while another client holds some; those bounce and retry.
        """
        if max_tasks is None or max_tasks < 1:
            return
        if peer.cap is None or max_tasks < peer.cap:
            peer.cap = max_tasks
            self.limit = self._concurrency_limit()
            self.touch(peer)

    def touch(self, peer: Peer) -> None:
        """Re-key a peer in the heap after its load changed (old entries go stale)."""
        peer.version += 1
        heapq.heappush(self._heap, (peer.load(), next(self._seq), peer.version, peer))
        if len(self._heap) > 4 * len(self._peers) + 64:
            self._heap = [
                (p.load(), next(self._seq), p.version, p) for p in self._peers.values() if p.alive
            ]
            heapq.heapify(self._heap)

    def take(self, peer: Peer) -> None:
        peer.inflight += 1
        self.touch(peer)

    def give_back(self, peer: Peer) -> None:
        peer.inflight -= 1
        if peer.alive:
            self.touch(peer)

    def pick(self) -> Peer | None:
        """The least-loaded live peer, or ``None`` when even that one is full."""
        heap = self._heap
        while heap:
            _, _, version, peer = heap[0]
            if version != peer.version or not peer.alive:
                heapq.heappop(heap)
                continue
            return peer if peer.has_room() else None
        return None

    def pick_excluding(self, excluded: set[str], *, relisting: bool) -> Peer | None:
        """A peer for a retry, preferring peers that have not failed this prompt.

        When every live peer has failed it, ``excluded`` is cleared (any peer may try again),
        unless a re-listing is under way that may bring a new one.
        """
        # Retries are few, so a scan is fine.
        allowed = [
            p for p in self._peers.values() if p.alive and p.cap != 0 and p.peer_id not in excluded
        ]
        if not allowed:
            if relisting:
                return None
            excluded.clear()
            return self.pick()
        best: Peer | None = None
        for p in allowed:
            if p.has_room() and (best is None or p.load() < best.load()):
                best = p
        return best
