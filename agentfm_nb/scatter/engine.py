"""The asyncio scatter engine shared by the sync and async clients.

It is transport-free: it only awaits the ``run_one(peer_id, prompt)`` coroutine it is given and
reads ``peers``. Scheduling is event driven (each finished attempt launches the next ones) and
peers come from a :class:`~agentfm_nb.scatter.peers.PeerPool`, so a batch of n prompts over p
peers costs O(n log p) bookkeeping and no polling. One prompt's attempts, retries and rows live
in :mod:`agentfm_nb.scatter.attempts`.

Cancellation keeps partial results: :func:`scatter` raises :class:`ScatterCancelled` (a
``CancelledError``, so task cancellation still propagates) whose ``.partial`` holds every
finished row plus ``"cancelled"`` rows for the rest; a :class:`ScatterRun` keeps its rows after a
cancel too (``run.partial()``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Literal

from agentfm_nb.scatter.attempts import (
    Item,
    RunOne,
    call,
    describe_failure,
    is_capacity_refusal,
)
from agentfm_nb.scatter.peers import Peer, PeerLike, PeerPool, PeerSpec, PeersSource
from agentfm_nb.scatter.results import (
    EventState,
    ScatterEvent,
    ScatterResult,
    ScatterResults,
    SyncRunner,
)

_log = logging.getLogger(__name__)

OnError = Literal["return", "stop"]
# A failing worker fails fast; re-list the peers at most this often, not once per failure.
_RELIST_INTERVAL_S = 0.5
# A prompt refused for capacity goes back to the queue (another peer first) after a short,
# growing pause; past this many refusals it fails like any other attempt.
_MAX_BOUNCES = 20
_BOUNCE_DELAY_S = 0.02
_BOUNCE_DELAY_CAP_S = 1.0

OnEvent = Callable[[ScatterEvent], object]


class ScatterCancelled(asyncio.CancelledError):
    """The scatter was cancelled; ``.partial`` holds the finished rows and ``cancelled`` ones."""

    def __init__(self, partial: ScatterResults) -> None:
        super().__init__("scatter cancelled")
        self.partial = partial


class ScatterRun:
    """One scatter in flight: start it, iterate completions, wait for all, or cancel.

    Rows survive cancellation: ``partial()`` returns them with unfinished ones as ``cancelled``.
    """

    def __init__(
        self,
        prompts: Sequence[str],
        *,
        run_one: RunOne,
        peers: PeersSource,
        max_concurrency: int | None = None,
        max_retries: int = 2,
        task_timeout: float | None = None,
        on_error: OnError = "return",
        on_event: OnEvent | None = None,
        sync_runner: SyncRunner | None = None,
        index_map: Sequence[int] | None = None,
    ) -> None:
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of strings, not one string")
        if on_error not in ("return", "stop"):
            raise ValueError(f"on_error must be 'return' or 'stop', not {on_error!r}")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if task_timeout is not None and task_timeout <= 0:
            raise ValueError("task_timeout must be > 0")
        self.prompts = [str(p) for p in prompts]
        self._run_one = run_one
        self._peers_source = peers
        self._max_concurrency = max_concurrency
        self._max_retries = max_retries
        self._task_timeout = task_timeout
        self._on_error: OnError = on_error
        self._on_event = on_event
        self._sync_runner = sync_runner
        self._index_map = list(index_map) if index_map is not None else None
        n = len(self.prompts)
        self.rows: list[ScatterResult | None] = [None] * n
        self._items = [Item(i, p) for i, p in enumerate(self.prompts)]
        self._fresh: deque[Item] = deque(self._items)
        self._retrying: list[Item] = []
        self._delayed: dict[int, asyncio.TimerHandle] = {}  # refused prompts waiting to requeue
        self._pool = PeerPool(max_concurrency)
        self._inflight = 0
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._finished = 0
        self._completed: asyncio.Queue[int] | None = None
        self._all_done: asyncio.Event | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._last_refresh = float("-inf")
        self._started = False
        self._stopping = False

    # ----------------------------------------------------------------- public

    @property
    def done(self) -> bool:
        return self._finished == len(self.rows)

    async def start(self) -> None:
        """Resolve the peers and launch the first attempts (idempotent)."""
        if self._started:
            return
        self._started = True
        self._all_done = asyncio.Event()
        peers = self._peers_source
        listed = await peers() if callable(peers) else peers
        self._pool.update(listed, initial=True)
        if not self._pool and self.rows:
            raise ValueError("scatter needs at least one peer")
        for item in self._items:
            self._emit(item.index, "queued", None, 0, None)
        if not self.rows:
            self._all_done.set()
        self._pump()

    def __aiter__(self) -> AsyncIterator[tuple[int, ScatterResult]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[int, ScatterResult]]:
        if self._completed is None:
            self._completed = asyncio.Queue()
            for i, row in enumerate(self.rows):  # rows finished before iteration began
                if row is not None:
                    self._completed.put_nowait(i)
        await self.start()
        for _ in range(len(self.rows)):
            i = await self._completed.get()
            row = self.rows[i]
            assert row is not None
            yield i, row

    async def wait(self) -> ScatterResults:
        """Wait for every row; on cancel, stop the rest and raise :class:`ScatterCancelled`."""
        try:
            await self.start()
            assert self._all_done is not None
            await self._all_done.wait()
            if self._tasks:  # on_error="stop" cancelled attempts: let them close their streams
                await self.aclose()
        except asyncio.CancelledError:
            await self.aclose()
            raise ScatterCancelled(self.partial()) from None
        return self.results()

    def cancel(self) -> None:
        """Cancel in-flight attempts and mark every unfinished row ``cancelled`` (sync)."""
        self._stop()

    async def aclose(self) -> None:
        """Cancel what is left and wait until every attempt has unwound (responses closed)."""
        self._stop()
        tasks = [t for t in self._tasks.values() if not t.done()]
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_task.cancel()
            tasks.append(self._refresh_task)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> ScatterRun:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def results(self) -> ScatterResults:
        """All rows; only valid once :attr:`done`."""
        if not self.done:
            raise RuntimeError("scatter still running; use partial() for the rows so far")
        return self._result_set([r for r in self.rows if r is not None])

    def partial(self) -> ScatterResults:
        """Finished rows plus ``cancelled`` rows for the unfinished ones."""
        rows = [
            r if r is not None else self._items[i].cancelled_row(self._global(i))
            for i, r in enumerate(self.rows)
        ]
        return self._result_set(rows)

    # ------------------------------------------------------------- scheduling

    def _relisting(self) -> bool:
        return self._refresh_task is not None and not self._refresh_task.done()

    def _pump(self) -> None:
        if self._stopping:
            return
        pool = self._pool
        while self._inflight < pool.limit and (self._retrying or self._fresh):
            item: Item | None = None
            peer: Peer | None = None
            for k, waiting in enumerate(self._retrying):
                peer = pool.pick_excluding(waiting.excluded, relisting=self._relisting())
                if peer is not None:
                    item = self._retrying.pop(k)
                    break
            if item is None and self._fresh:
                peer = pool.pick()
                if peer is not None:
                    item = self._fresh.popleft()
            if item is None or peer is None:
                break
            self._launch(item, peer)
        if (
            self._inflight == 0
            and (self._retrying or self._fresh)
            and not self._relisting()
            and not self._delayed
        ):
            # Nothing running and nothing placeable: no live peer is left.
            stranded = [*self._retrying, *self._fresh]
            self._retrying.clear()
            self._fresh.clear()
            for item in stranded:
                self._finish_failed(item, "no live peer left to run this prompt", "NoPeerError")

    def _launch(self, item: Item, peer: Peer) -> None:
        self._pool.take(peer)
        self._inflight += 1
        item.begin(peer.peer_id)
        self._emit(item.index, "running", peer.peer_id, item.attempts, None)
        self._tasks[item.index] = asyncio.ensure_future(self._attempt(item, peer))

    async def _attempt(self, item: Item, peer: Peer) -> None:
        try:
            out = await call(self._run_one, peer.peer_id, item.prompt, self._task_timeout)
        except asyncio.CancelledError:
            self._release(item, peer)
            raise
        except Exception as exc:
            if is_capacity_refusal(exc) and item.bounces < _MAX_BOUNCES:
                self._bounce(item, peer, exc)
                self._release(item, peer)
            else:
                self._release(item, peer)
                item.output = str(getattr(exc, "output", "") or "")
                message, kind = describe_failure(exc, self._task_timeout, item.index)
                self._failed_attempt(item, peer, message, kind)
        else:
            self._release(item, peer)
            row = item.success_row(self._global(item.index), peer.peer_id, out)
            self._finish(item, row, "done", row.worker_id)
        self._pump()

    def _bounce(self, item: Item, peer: Peer, exc: Exception) -> None:
        """A capacity refusal: learn the peer's size, requeue the prompt after a pause."""
        if self._stopping:
            return
        self._pool.learn(peer, getattr(exc, "max_tasks", None))
        item.bounces += 1
        item.attempts -= 1  # it never ran
        item.excluded.add(peer.peer_id)
        self._emit(item.index, "retrying", peer.peer_id, item.attempts, str(exc))
        delay = min(_BOUNCE_DELAY_S * 2 ** (item.bounces - 1), _BOUNCE_DELAY_CAP_S)
        loop = asyncio.get_running_loop()
        self._delayed[item.index] = loop.call_later(delay, self._requeue, item)

    def _requeue(self, item: Item) -> None:
        if self._delayed.pop(item.index, None) is not None and not self._stopping:
            self._retrying.append(item)
            self._pump()

    def _release(self, item: Item, peer: Peer) -> None:
        self._tasks.pop(item.index, None)
        self._pool.give_back(peer)
        self._inflight -= 1

    def _failed_attempt(self, item: Item, peer: Peer, message: str, kind: str) -> None:
        if self._stopping:
            return
        if item.may_retry(peer.peer_id, self._max_retries):
            self._emit(item.index, "retrying", peer.peer_id, item.attempts, message)
            self._retrying.append(item)
            self._refresh_peers()
            return
        self._finish_failed(item, message, kind)
        if self._on_error == "stop":
            self._stop()

    def _refresh_peers(self) -> None:
        source = self._peers_source
        if not callable(source):
            return
        if self._relisting():
            return
        now = time.monotonic()
        if now - self._last_refresh < _RELIST_INTERVAL_S:
            return
        self._last_refresh = now

        async def refresh() -> None:
            try:
                listed = await source()
            except Exception as exc:  # the gateway may be down; keep the peers we know
                _log.debug("scatter: re-listing peers failed: %s", exc)
            else:
                if not self._stopping:
                    self._pool.update(listed, initial=False)
            finally:
                self._refresh_task = None
            self._pump()

        self._refresh_task = asyncio.ensure_future(refresh())

    def _stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        delayed = [self._items[i] for i in self._delayed]
        for handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        for item in [*self._retrying, *self._fresh, *delayed]:
            self._finish(item, item.cancelled_row(self._global(item.index)), "cancelled", None)
        self._retrying.clear()
        self._fresh.clear()
        for index, task in list(self._tasks.items()):
            item = self._items[index]
            row = item.cancelled_row(self._global(item.index))
            self._finish(item, row, "cancelled", item.last_peer)
            task.cancel()

    # ---------------------------------------------------------------- results

    def _global(self, index: int) -> int:
        return self._index_map[index] if self._index_map is not None else index

    def _finish_failed(self, item: Item, message: str, kind: str) -> None:
        row = item.failed_row(self._global(item.index), message, kind)
        self._finish(item, row, "failed", item.last_peer)

    def _finish(self, item: Item, row: ScatterResult, state: EventState, peer: str | None) -> None:
        if self.rows[item.index] is not None:
            return
        self.rows[item.index] = row
        self._finished += 1
        self._emit(item.index, state, peer, item.attempts, row.error)
        if self._completed is not None:
            self._completed.put_nowait(item.index)
        if self._finished == len(self.rows) and self._all_done is not None:
            self._all_done.set()

    def _emit(
        self, index: int, state: EventState, peer: str | None, attempt: int, error: str | None
    ) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(ScatterEvent(self._global(index), state, peer, attempt, error))
        except Exception:  # a broken progress display must not break the batch
            _log.exception("scatter on_event callback failed; events disabled for this run")
            self._on_event = None

    def _result_set(self, rows: list[ScatterResult]) -> ScatterResults:
        settings = dict(
            run_one=self._run_one,
            peers=self._peers_source,
            max_concurrency=self._max_concurrency,
            max_retries=self._max_retries,
            task_timeout=self._task_timeout,
            on_error=self._on_error,
            sync_runner=self._sync_runner,
        )
        on_event = self._on_event

        async def retry(prompts: list[str], positions: list[int]) -> ScatterResults:
            run = ScatterRun(prompts, on_event=on_event, index_map=positions, **settings)  # type: ignore[arg-type]
            return await run.wait()

        return ScatterResults(rows, retry=retry, sync_runner=self._sync_runner)


async def scatter(
    prompts: Sequence[str],
    *,
    run_one: RunOne,
    peers: PeersSource,
    max_concurrency: int | None = None,
    max_retries: int = 2,
    task_timeout: float | None = None,
    on_error: OnError = "return",
    on_event: OnEvent | None = None,
    sync_runner: SyncRunner | None = None,
    partial_on_cancel: bool = False,
) -> ScatterResults:
    """Run every prompt on the peers; rows come back in input order, failures as rows.

    On cancellation raises :class:`ScatterCancelled` carrying the partial result set, or, with
    ``partial_on_cancel=True`` (for a sync caller blocked on a portal), returns that set.
    """
    run = ScatterRun(
        prompts,
        run_one=run_one,
        peers=peers,
        max_concurrency=max_concurrency,
        max_retries=max_retries,
        task_timeout=task_timeout,
        on_error=on_error,
        on_event=on_event,
        sync_runner=sync_runner,
    )
    try:
        return await run.wait()
    except ScatterCancelled as exc:
        if partial_on_cancel:
            return exc.partial
        raise


async def scatter_iter(
    prompts: Sequence[str],
    *,
    run_one: RunOne,
    peers: PeersSource,
    max_concurrency: int | None = None,
    max_retries: int = 2,
    task_timeout: float | None = None,
    on_error: OnError = "return",
    on_event: OnEvent | None = None,
) -> AsyncIterator[tuple[int, ScatterResult]]:
    """Yield ``(index, row)`` as each prompt finishes; leaving early cancels the rest."""
    run = ScatterRun(
        prompts,
        run_one=run_one,
        peers=peers,
        max_concurrency=max_concurrency,
        max_retries=max_retries,
        task_timeout=task_timeout,
        on_error=on_error,
        on_event=on_event,
    )
    async with run:
        async for pair in run:
            yield pair


__all__ = [
    "OnError",
    "OnEvent",
    "PeerLike",
    "PeerSpec",
    "PeersSource",
    "RunOne",
    "ScatterCancelled",
    "ScatterRun",
    "scatter",
    "scatter_iter",
]
