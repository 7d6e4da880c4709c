"""``client.tasks``: dispatch by peer id (run, stream, submit_async, scatter).

The SDK's contract (agentfm-sdk 0.3.0): ``run`` returns whatever the agent printed, sentinels
removed, and never raises on that text (a real worker's capacity refusal and a failed agent's
``Sandbox exited`` line are both HTTP 200 text); ``stream`` never yields sentinel text, only a
final ``TaskChunk(text="", kind="marker")`` when artifacts were announced. Opting in with
``run(..., raise_on_agent_error=True)`` turns those in-band failures into exceptions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agentfm_nb import journal
from agentfm_nb.client import artifacts as _artifacts
from agentfm_nb.client._inband import check_output
from agentfm_nb.client._shared import (
    StreamSplitter,
    coerce_peer_ids,
    execute_payload,
    filter_workers,
    match_model,
    new_task_id,
)
from agentfm_nb.client._transport import stream_timeout
from agentfm_nb.client.models import AsyncTaskAck, PeerID, TaskChunk, TaskResult, WorkerProfile
from agentfm_nb.client.resources._base import AsyncResource, SyncResource
from agentfm_nb.client.resources._scatter_run import SyncScatter
from agentfm_nb.client.resources._streams import AsyncTaskStream, TaskStream
from agentfm_nb.errors import AgentFMError, ArtifactError, WorkerNotFoundError

if TYPE_CHECKING:
    from agentfm_nb.scatter import ScatterEvent, ScatterResult, ScatterResults

T = TypeVar("T")
PickFn = Callable[[list[WorkerProfile]], list[WorkerProfile]]
OnEvent = Callable[["ScatterEvent"], object]
log = logging.getLogger("agentfm_nb.client")


class _Run:
    """One ``run()`` of either twin: its text and its result."""

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

    def result(self, files: list[Path], raise_on_agent_error: bool) -> TaskResult:
        text = "".join(self.parts)
        if raise_on_agent_error:
            check_output(text, self.worker_id)
        elapsed = time.monotonic() - self.start
        return TaskResult(PeerID(self.worker_id), text, files, elapsed, self.task_id)


def _harvest_now(adir: Path, task_id: str) -> list[Path]:
    """Look once: a zip already there is extracted (the SDK's contract), none is ``[]``."""
    path = _artifacts.zip_path(adir, task_id)
    if not path.is_file():
        return []
    return _artifacts.extract_zip(path, adir / task_id)


def _harvest(adir: Path | None, run: _Run, timeout: float) -> list[Path]:
    if adir is None:
        return []
    if not run.splitter.files_incoming:
        # NO_FILES (or no sentinel at all): never wait, as later SDK versions
        return _harvest_now(adir, run.task_id)
    try:
        return _artifacts.harvest(adir, run.task_id, timeout)
    except ArtifactError:
        if _artifacts.zip_path(adir, run.task_id).is_file():
            raise  # the zip is there but unsafe or corrupt: say so
        log.warning("task %s announced files but no zip arrived in %gs", run.task_id, timeout)
        return []


async def _aharvest(adir: Path | None, run: _Run, timeout: float) -> list[Path]:
    if adir is None:
        return []
    if not run.splitter.files_incoming:
        path = _artifacts.zip_path(adir, run.task_id)
        return await asyncio.to_thread(_harvest_now, adir, run.task_id) if path.is_file() else []
    try:
        return await _artifacts.aharvest(adir, run.task_id, timeout)
    except ArtifactError:
        if _artifacts.zip_path(adir, run.task_id).is_file():
            raise
        log.warning("task %s announced files but no zip arrived in %gs", run.task_id, timeout)
        return []


def _async_payload(worker_id: str, prompt: str, webhook_url: str | None) -> dict[str, Any]:
    payload = execute_payload(worker_id, prompt, None)
    if webhook_url:
        payload["webhook_url"] = webhook_url
    return payload


def _choose(
    workers: list[WorkerProfile], model: str, max_workers: int | None, pick: PickFn | None
) -> list[WorkerProfile]:
    # SDK semantics first: the workers advertising ``model`` as their engine. Only where the
    # SDK would raise (none do) the gateway's other tiers are tried: peer id, then agent name.
    workers = filter_workers(workers, model=model) or match_model(workers, model)
    if pick is not None:
        workers = list(pick(workers))
    elif max_workers is not None:
        workers = workers[:max_workers]
    if not workers:
        raise WorkerNotFoundError(f"no available worker advertises model={model!r}")
    return workers


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

    def stream(
        self, *, worker_id: PeerID | str, prompt: str, task_id: str | None = None
    ) -> TaskStream:
        """Yield stdout as it arrives, sentinels removed (see :class:`TaskStream`)."""
        wid, tid = str(worker_id), task_id or new_task_id()
        return TaskStream(lambda: self._chunks(wid, prompt, tid, StreamSplitter()))

    def run(
        self,
        *,
        worker_id: PeerID | str,
        prompt: str,
        artifact_timeout: float = 120.0,
        task_id: str | None = None,
        raise_on_agent_error: bool = False,
    ) -> TaskResult:
        """Run a task to the end and return what the agent printed.

        With ``artifacts_dir`` set, the task's zip is extracted: after ``FILES_INCOMING`` it is
        awaited up to ``artifact_timeout``; otherwise one look, no wait.
        ``raise_on_agent_error=True`` raises ``TaskExecutionError`` when the output ends the
        way a failed agent's does, and ``MeshOverloadedError`` for a capacity refusal.
        """
        run = _Run(worker_id, task_id)
        for chunk in self._chunks(run.worker_id, prompt, run.task_id, run.splitter):
            run.take(chunk)
        files = _harvest(self._client.artifacts_dir, run, artifact_timeout)
        return run.result(files, raise_on_agent_error)

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
        """Many prompts over ``peer_ids``; rows in input order, every failure a row.

        Sends only ``POST /api/execute``, each prompt through ``tasks.run`` (patch or mock it
        and scatter follows). Runs on the portal loop thread; Ctrl-C cancels the batch (closing
        every open response, so the gateway stops the agents) and returns the rows, unfinished
        ones ``cancelled``. ``on_event`` is called from the portal thread.
        """
        return SyncScatter(self, _STOCK_RUN).run(
            prompts,
            coerce_peer_ids(peer_ids),
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            task_timeout=task_timeout,
            on_error=on_error,
            on_event=on_event,
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
        that engine, a peer id or an agent name (``model="Poet"``) is accepted too. Their
        advertised slots set how many prompts each one gets at once.
        """
        workers = _choose(self._client.workers.list(available_only=True), model, max_workers, pick)
        return SyncScatter(self, _STOCK_RUN).run(prompts, workers, **scatter_opts)

    def scatter_iter(
        self,
        prompts: Sequence[str],
        *,
        peer_ids: Sequence[PeerID | str],
        **scatter_opts: Any,
    ) -> Generator[tuple[int, ScatterResult], None, None]:
        """Yield ``(index, row)`` as each prompt finishes; closing the iterator cancels the rest."""
        return SyncScatter(self, _STOCK_RUN).iterate(
            prompts, coerce_peer_ids(peer_ids), **scatter_opts
        )


_STOCK_RUN = Tasks.run  # scatter calls a replaced ``run`` in threads, the stock one natively


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

    def stream(
        self, *, worker_id: PeerID | str, prompt: str, task_id: str | None = None
    ) -> AsyncTaskStream:
        """``async for`` over stdout, sentinels removed (see :class:`AsyncTaskStream`)."""
        wid, tid = str(worker_id), task_id or new_task_id()
        return AsyncTaskStream(lambda: self._chunks(wid, prompt, tid, StreamSplitter()))

    async def run(
        self,
        *,
        worker_id: PeerID | str,
        prompt: str,
        artifact_timeout: float = 120.0,
        task_id: str | None = None,
        raise_on_agent_error: bool = False,
    ) -> TaskResult:
        run = _Run(worker_id, task_id)
        agen = self._chunks(run.worker_id, prompt, run.task_id, run.splitter)
        try:
            async for chunk in agen:
                run.take(chunk)
        finally:
            await agen.aclose()  # a cancel mid-read closes the response at once
        files = await _aharvest(self._client.artifacts_dir, run, artifact_timeout)
        return run.result(files, raise_on_agent_error)

    async def submit_async(
        self, *, worker_id: PeerID | str, prompt: str, webhook_url: str | None = None
    ) -> AsyncTaskAck:
        body = await self._client._transport.json(
            "POST", "/api/execute/async", json=_async_payload(str(worker_id), prompt, webhook_url)
        )
        return AsyncTaskAck.from_wire(body)

    async def _run_checked(self, peer_id: str, prompt: str) -> TaskResult:
        """One scatter attempt: the public ``run`` (patchable), then its in-band verdict."""
        result = await self.run(worker_id=peer_id, prompt=prompt)
        check_output(result.text, peer_id)
        return result

    def _model_source(self, workers: list[WorkerProfile]) -> Callable[[], Any]:
        """Re-listed by the engine on failover: live telemetry for the chosen workers."""
        chosen = {w.peer_id: w for w in workers}

        async def peers() -> list[WorkerProfile]:
            try:
                listed = await self._client.workers.fetch()
            except AgentFMError:
                return list(chosen.values())
            return [w for w in listed if w.peer_id in chosen]

        return peers

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
        """Many prompts over ``peer_ids``; rows in input order, every failure a row.

        Cancelling raises ``ScatterCancelled`` (a ``CancelledError``) whose ``.partial`` keeps
        the finished rows.
        """
        from agentfm_nb.scatter.engine import scatter as engine_scatter

        return await engine_scatter(
            list(prompts),
            run_one=self._run_checked,
            peers=coerce_peer_ids(peer_ids),
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            task_timeout=task_timeout,
            on_error=on_error,  # type: ignore[arg-type]
            on_event=on_event,
        )

    async def scatter_by_model(
        self,
        prompts: Sequence[str],
        *,
        model: str,
        max_workers: int | None = None,
        pick: PickFn | None = None,
        max_concurrency: int | None = None,
        max_retries: int = 2,
        task_timeout: float | None = None,
        on_error: str = "return",
        on_event: OnEvent | None = None,
    ) -> ScatterResults:
        from agentfm_nb.scatter.engine import scatter as engine_scatter

        workers = await self._client.workers.list(available_only=True)
        chosen = _choose(workers, model, max_workers, pick)
        return await engine_scatter(
            list(prompts),
            run_one=self._run_checked,
            peers=self._model_source(chosen),
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            task_timeout=task_timeout,
            on_error=on_error,  # type: ignore[arg-type]
            on_event=on_event,
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
            run_one=self._run_checked,
            peers=coerce_peer_ids(peer_ids),
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            task_timeout=task_timeout,
            on_error=on_error,  # type: ignore[arg-type]
            on_event=on_event,
        ):
            yield pair
