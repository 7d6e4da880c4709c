"""The sync client's scatter: the async engine on the portal loop, fed by ``tasks.run``.

While ``tasks.run`` is the library's own, each attempt runs natively on the portal loop (the
async twin's ``run``: same request, same parsing, no thread per task). Once a user replaces it
(``monkeypatch.setattr(client.tasks, "run", ...)``, ``mock.patch.object``), every attempt calls
the replacement in a worker thread instead, so scatter does exactly what the patched method does.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any, cast

from agentfm_nb.client._inband import check_output
from agentfm_nb.client.models import WorkerProfile

if TYPE_CHECKING:
    from agentfm_nb.client.resources.tasks import Tasks
    from agentfm_nb.scatter import ScatterResult, ScatterResults
    from agentfm_nb.scatter.attempts import RunOne
    from agentfm_nb.scatter.peers import PeersSource


class SyncScatter:
    def __init__(self, tasks: Tasks, stock_run: Callable[..., Any]) -> None:
        self._tasks = tasks
        self._stock_run = stock_run
        self._twin = tasks._client._portal_client()

    def _run_one(self) -> RunOne:
        run = self._tasks.run
        if getattr(run, "__func__", None) is self._stock_run:
            return self._twin.tasks._run_checked

        async def run_in_thread(peer_id: str, prompt: str) -> Any:
            call = functools.partial(run, worker_id=peer_id, prompt=prompt)
            result = await asyncio.get_running_loop().run_in_executor(None, call)
            check_output(str(getattr(result, "text", "") or ""), peer_id)
            return result

        return run_in_thread

    def _peers(self, peers: Sequence[str | WorkerProfile]) -> PeersSource:
        workers = [p for p in peers if isinstance(p, WorkerProfile)]
        if workers and len(workers) == len(peers):
            return self._twin.tasks._model_source(workers)
        return [str(p) for p in peers]

    def run(
        self, prompts: Sequence[str], peers: Sequence[str | WorkerProfile], **opts: Any
    ) -> ScatterResults:
        from agentfm_nb.client._portal import portal
        from agentfm_nb.scatter.engine import scatter

        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of strings, not one string")
        runner = portal().run
        return runner(
            scatter(
                list(prompts),
                run_one=self._run_one(),
                peers=self._peers(peers),
                sync_runner=runner,
                partial_on_cancel=True,
                **opts,
            )
        )

    def iterate(
        self, prompts: Sequence[str], peers: Sequence[str], **opts: Any
    ) -> Generator[tuple[int, ScatterResult], None, None]:
        from agentfm_nb.client._portal import portal
        from agentfm_nb.scatter.engine import scatter_iter

        agen = cast(
            "AsyncGenerator[tuple[int, ScatterResult], None]",
            scatter_iter(list(prompts), run_one=self._run_one(), peers=list(peers), **opts),
        )
        run = portal().run
        try:
            while True:
                try:
                    item = run(_next(agen))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            run(agen.aclose())


async def _next(agen: AsyncIterator[Any]) -> Any:
    return await agen.__anext__()
