"""Opening a task on the mesh and turning its run into wire bytes (shared by /api and /v1)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, TypeVar

from agentfm_nb.mesh.routes.common import GatewayState
from agentfm_nb.mesh.taskrun import TaskRun

T = TypeVar("T")


def mint_task_id(prefix: str = "task_") -> str:
    """``prefix`` + 24 hex digits, as the real gateway's ``newCompletionID``."""
    return prefix + secrets.token_hex(12)


def one_line(text: str) -> str:
    """An error as one wire line (an agent's message must not pass for more output lines)."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


async def open_run(state: GatewayState, peer_id: str, prompt: str, task_id: str) -> OpenRun:
    """Commit the task (slot taken, agent started); raises WorkerBusy / UnknownWorker."""
    run = state.mesh.open_task(peer_id, prompt, task_id)
    await run.__aenter__()
    return OpenRun(state, run)


class OpenRun:
    """A run already entered; :meth:`batches` owns leaving its context."""

    def __init__(self, state: GatewayState, run: TaskRun) -> None:
        self.state = state
        self.run = run
        self.peer_id = run.peer_id
        self.task_id = run.task_id
        self._closed = False

    async def batches(self, protocol: str) -> AsyncGenerator[list[str], None]:
        """The body's lines in batches (``TaskRun.batches``: whatever is ready, never held back).

        The run's context is left when this generator ends or is closed, which stops the agent.
        """
        async for batch in self._guarded(self.run.batches(), protocol):
            yield batch

    async def chunks(self, protocol: str) -> AsyncGenerator[bytes, None]:
        """The raw ``/api/execute`` body (``TaskRun.chunks``); leaves the context like batches."""
        async for chunk in self._guarded(self.run.chunks(), protocol):
            yield chunk

    async def _guarded(self, source: AsyncIterator[T], protocol: str) -> AsyncGenerator[T, None]:
        exc_info: tuple[Any, Any, Any] = (None, None, None)
        try:
            async with aclosing(source) as items:  # type: ignore[type-var]
                async for item in items:
                    yield item
        except GeneratorExit:
            # closed right after the final chunk (a response ends there) is a clean end
            if not self.run.done:
                exc_info = sys.exc_info()
            raise
        except BaseException:
            exc_info = sys.exc_info()
            raise
        finally:
            await self.close(exc_info, protocol)

    async def close(self, exc_info: tuple[Any, Any, Any], protocol: str) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.run.__aexit__(*exc_info)
        finally:
            if exc_info[0] is None:
                self.state.metrics.task_finished(
                    self.run.status, protocol=protocol, artifact=self.run.has_artifact
                )
            else:
                self.state.metrics.task_finished("error", protocol=protocol)

    def api_body(self) -> AsyncGenerator[bytes, None]:
        """``/api/execute`` wire bytes, exactly as the real worker writes them (see TaskRun)."""
        return self._guarded(self.run.chunks(), "api")
