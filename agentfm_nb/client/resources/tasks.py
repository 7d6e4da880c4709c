"""``client.tasks``: dispatch by peer id (run, stream, submit_async, scatter)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agentfm_nb import journal
from agentfm_nb.client import artifacts as _artifacts
from agentfm_nb.client._shared import (
    StreamSplitter,
    agent_error,
    coerce_peer_ids,
    execute_payload,
    filter_workers,
    match_model,
    new_task_id,
)
from agentfm_nb.client._transport import stream_timeout
from agentfm_nb.client.models import AsyncTaskAck, PeerID, TaskChunk, TaskResult, WorkerProfile
from agentfm_nb.client.resources._base import AsyncResource, SyncResource
from agentfm_nb.errors import (
    AgentFMError,
    TaskExecutionError,
    WorkerNotFoundError,
    WorkerStreamError,
)

if TYPE_CHECKING:
    from agentfm_nb.scatter import ScatterEvent, ScatterResult, ScatterResults

T = TypeVar("T")
PickFn = Callable[[list[WorkerProfile]], list[WorkerProfile]]
OnEvent = Callable[["ScatterEvent"], object]


def _no_sentinel(task_id: str) -> WorkerStreamError:
    return WorkerStreamError(
        f"task {task_id}: the stream ended without a completion marker",
        code="worker_stream_failed",
    )


class _Run:
    """One ``run()`` of either twin: its text, whether to harvest artifacts, its result."""

    __slots__ = ("parts", "splitter", "start", "task_id", "worker_id")

    def __init__(self, worker_id: PeerID | str, task_id: str | None) -> None:
        self.worker_id = str(worker_id)
        self.task_id = task_id or new_task_id()
        self.start = time.monotonic()
        self.splitter = StreamSplitter()
        self.parts: list[str] = []

    def take(self, chunk: TaskChunk) -> None:
        if chunk.kind == "text":
            self.parts.append(chunk.text)

    def artifacts_dir(self, configured: Path | None) -> Path | None:
        """Where to harvest this task's artifacts, ``None`` when there is nothing to fetch."""
        return configured if configured is not None and self.splitter.files_incoming else None

    def result(self, files: list[Path]) -> TaskResult:
        text = "".join(self.parts)
        error = agent_error(text)
        if error is not None:
            raise TaskExecutionError(
                f"agent on {self.worker_id} failed: {error}", code="agent_failed"
            )
        elapsed = time.monotonic() - self.start
        return TaskResult(PeerID(self.worker_id), text, files, elapsed, self.task_id)


def _async_payload(worker_id: str, prompt: str, webhook_url: str | None) -> dict[str, Any]:
    payload = execute_payload(worker_id, prompt, None)
    if webhook_url:
        payload["webhook_url"] = webhook_url
    return payload


def _choose(
    workers: list[WorkerProfile], model: str, max_workers: int | None, pick: PickFn | None
) -> list[str]:
    # SDK semantics first: the workers advertising ``model`` as their engine. Only where the
    # SDK would raise (none do) the gateway's other tiers are tried: peer id, then agent name.
    workers = filter_workers(workers, model=model) or match_model(workers, model)
    if pick is not None:
        workers = list(pick(workers))
    elif max_workers is not None:
        workers = workers[:max_workers]
    if not workers:
        raise WorkerNotFoundError(f"no available worker advertises model={model!r}")
    return [w.peer_id for w in workers]


async def _anext(agen: AsyncGenerator[T, None]) -> T:
    return await agen.__anext__()


# --- sync ------------------------------------------------------------------------------------


class Tasks(SyncResource):
    @journal.traced  # the kernel's task journal (TaskHistory, WorkerInspector)
    def _chunks(
        self, worker_id: str, prompt: str, task_id: str, splitter: StreamSplitter
    ) -> Generator[TaskChunk, None, None]:
        c = self._client
        payload = execute_payload(worker_id, prompt, task_id)
        with c._transport.stream(
            "POST", "/api/execute", json=payload, timeout=stream_timeout(c.timeout)
        ) as response:
            for data in response.iter_bytes():
                yield from splitter.feed(data)
            yield from splitter.close()
        if not splitter.finished:
            raise _no_sentinel(task_id)

    def stream(
        self, *, worker_id: PeerID | str, prompt: str, task_id: str | None = None
    ) -> Generator[TaskChunk, None, None]:
        """Yield stdout as it arrives; sentinels come as ``kind="marker"`` chunks.

        Leaving the loop early (break, KeyboardInterrupt) closes the response, which makes the
        gateway stop the agent.
        """
        return self._chunks(str(worker_id), prompt, task_id or new_task_id(), StreamSplitter())

    def run(
        self,
        *,
        worker_id: PeerID | str,
        prompt: str,
        artifact_timeout: float = 120.0,
        task_id: str | None = None,
    ) -> TaskResult:
        """Run a task to the end; extracts its artifacts when ``artifacts_dir`` is set.

        Raises ``TaskExecutionError`` when the gateway reports that the agent failed.
        """
        run = _Run(worker_id, task_id)
        for chunk in self._chunks(run.worker_id, prompt, run.task_id, run.splitter):
            run.take(chunk)
        adir = run.artifacts_dir(self._client.artifacts_dir)
        files = [] if adir is None else _artifacts.harvest(adir, run.task_id, artifact_timeout)
        return run.result(files)

    def submit_async(
        self, *, worker_id: PeerID | str, prompt: str, webhook_url: str | None = None
    ) -> AsyncTaskAck:
        """Queue a task; the gateway answers 202 and calls ``webhook_url`` when it is done."""
        body = self._client._transport.json(
            "POST", "/api/execute/async", json=_async_payload(str(worker_id), prompt, webhook_url)
        )
        return AsyncTaskAck.from_wire(body)

    def scatter(
        self,
        prompts: Sequence[str],
        *,
        peer_ids: Sequence[PeerID | str],
        max_concurrency: int | None = None,
        max_retries: int = 2,
        task_timeout: float | None = None,
        on_error: str = "return",
        on_event: OnEvent | None = None,
    ) -> ScatterResults:
        """Many prompts over ``peer_ids``; rows in input order, failures as rows.

        Runs the async engine on the portal loop thread with an internal async twin of this
        client. A loop thread rather than nest-asyncio: it never re-enters Jupyter's running
        loop, and this thread only blocks on a future, so Ctrl-C still reaches it. Ctrl-C
        cancels the batch (closing every open response, so the gateway stops the agents) and
        returns the partial rows, unfinished ones as ``cancelled``.
        ``on_event`` is called from the portal thread.
        """
        from agentfm_nb.client._portal import portal

        ids = coerce_peer_ids(peer_ids)
        aclient = self._client._portal_client()
        return portal().run(
            aclient.tasks._scatter_keep_partial(
                list(prompts),
                ids,
                max_concurrency=max_concurrency,
                max_retries=max_retries,
                task_timeout=task_timeout,
                on_error=on_error,
                on_event=on_event,
                sync_runner=portal().run,
            )
        )

    def scatter_by_model(
        self,
        prompts: Sequence[str],
        *,
        model: str,
        max_workers: int | None = None,
        pick: PickFn | None = None,
        **scatter_opts: Any,
    ) -> ScatterResults:
        """Discover available workers of ``model`` (then ``pick``/``max_workers``), scatter.

        ``model`` is matched against the advertised engine as in the SDK; when no worker has
        that engine, a peer id or an agent name (``model="Poet"``) is accepted too.
        """
        workers = self._client.workers.list(available_only=True)
        return self.scatter(
            prompts, peer_ids=_choose(workers, model, max_workers, pick), **scatter_opts
        )

    def scatter_iter(
        self,
        prompts: Sequence[str],
        *,
        peer_ids: Sequence[PeerID | str],
        **scatter_opts: Any,
    ) -> Generator[tuple[int, ScatterResult], None, None]:
        """Yield ``(index, row)`` as each prompt finishes; closing the iterator cancels the rest."""
        from agentfm_nb.client._portal import portal

        ids = coerce_peer_ids(peer_ids)
        agen = self._client._portal_client().tasks.scatter_iter(
            list(prompts), peer_ids=ids, **scatter_opts
        )
        run = portal().run
        try:
            while True:
                try:
                    item = run(_anext(agen))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            run(agen.aclose())


# --- async -----------------------------------------------------------------------------------


class AsyncTasks(AsyncResource):
    @journal.traced
    async def _chunks(
        self, worker_id: str, prompt: str, task_id: str, splitter: StreamSplitter
    ) -> AsyncGenerator[TaskChunk, None]:
        c = self._client
        payload = execute_payload(worker_id, prompt, task_id)
        async with c._transport.post_stream(
            "/api/execute", payload, stream_timeout(c.timeout)
        ) as body:
            async for data in body:
                for chunk in splitter.feed(data):
                    yield chunk
            for chunk in splitter.close():
                yield chunk
        if not splitter.finished:
            raise _no_sentinel(task_id)

    def stream(
        self, *, worker_id: PeerID | str, prompt: str, task_id: str | None = None
    ) -> AsyncGenerator[TaskChunk, None]:
        """``async for`` over stdout; wrap in ``contextlib.aclosing`` to release early."""
        return self._chunks(str(worker_id), prompt, task_id or new_task_id(), StreamSplitter())

    async def run(
        self,
        *,
        worker_id: PeerID | str,
        prompt: str,
        artifact_timeout: float = 120.0,
        task_id: str | None = None,
    ) -> TaskResult:
        run = _Run(worker_id, task_id)
        agen = self._chunks(run.worker_id, prompt, run.task_id, run.splitter)
        try:
            async for chunk in agen:
                run.take(chunk)
        finally:
            await agen.aclose()  # a cancel mid-read closes the response at once
        adir = run.artifacts_dir(self._client.artifacts_dir)
        files: list[Path] = []
        if adir is not None:
            files = await _artifacts.aharvest(adir, run.task_id, artifact_timeout)
        return run.result(files)

    async def submit_async(
        self, *, worker_id: PeerID | str, prompt: str, webhook_url: str | None = None
    ) -> AsyncTaskAck:
        body = await self._client._transport.json(
            "POST", "/api/execute/async", json=_async_payload(str(worker_id), prompt, webhook_url)
        )
        return AsyncTaskAck.from_wire(body)

    def _peers_source(self, ids: list[str]) -> Callable[[], Any]:
        """Re-listed by the engine on failover: live telemetry for known ids, bare ids else."""

        async def peers() -> list[WorkerProfile | str]:
            try:
                listed = {w.peer_id: w for w in await self._client.workers.fetch()}
            except AgentFMError:
                return list(ids)
            return [listed.get(PeerID(i), i) for i in ids]

        return peers

    async def _run_one(self, peer_id: str, prompt: str) -> TaskResult:
        return await self.run(worker_id=peer_id, prompt=prompt)

    async def scatter(
        self,
        prompts: Sequence[str],
        *,
        peer_ids: Sequence[PeerID | str],
        max_concurrency: int | None = None,
        max_retries: int = 2,
        task_timeout: float | None = None,
        on_error: str = "return",
        on_event: OnEvent | None = None,
    ) -> ScatterResults:
        """Many prompts over ``peer_ids``; rows in input order, failures as rows.

        Cancelling raises ``ScatterCancelled`` (a ``CancelledError``) whose ``.partial`` keeps
        the finished rows.
        """
        from agentfm_nb.scatter.engine import scatter as engine_scatter

        return await engine_scatter(
            list(prompts),
            run_one=self._run_one,
            peers=self._peers_source(coerce_peer_ids(peer_ids)),
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            task_timeout=task_timeout,
            on_error=on_error,  # type: ignore[arg-type]
            on_event=on_event,
        )

    async def _scatter_keep_partial(
        self, prompts: list[str], ids: list[str], **opts: Any
    ) -> ScatterResults:
        """Like ``scatter`` but a cancel returns the partial rows (used by the sync twin)."""
        from agentfm_nb.scatter.engine import ScatterCancelled
        from agentfm_nb.scatter.engine import scatter as engine_scatter

        try:
            return await engine_scatter(
                prompts, run_one=self._run_one, peers=self._peers_source(ids), **opts
            )
        except ScatterCancelled as exc:
            return exc.partial

    async def scatter_by_model(
        self,
        prompts: Sequence[str],
        *,
        model: str,
        max_workers: int | None = None,
        pick: PickFn | None = None,
        **scatter_opts: Any,
    ) -> ScatterResults:
        workers = await self._client.workers.list(available_only=True)
        return await self.scatter(
            prompts, peer_ids=_choose(workers, model, max_workers, pick), **scatter_opts
        )

    async def scatter_iter(
        self,
        prompts: Sequence[str],
        *,
        peer_ids: Sequence[PeerID | str],
        max_concurrency: int | None = None,
        max_retries: int = 2,
        task_timeout: float | None = None,
        on_error: str = "return",
        on_event: OnEvent | None = None,
    ) -> AsyncGenerator[tuple[int, ScatterResult], None]:
        """Yield ``(index, row)`` as each prompt finishes; leaving early cancels the rest."""
        from agentfm_nb.scatter.engine import scatter_iter as engine_iter

        async for pair in engine_iter(
            list(prompts),
            run_one=self._run_one,
            peers=self._peers_source(coerce_peer_ids(peer_ids)),
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            task_timeout=task_timeout,
            on_error=on_error,  # type: ignore[arg-type]
            on_event=on_event,
        ):
            yield pair
