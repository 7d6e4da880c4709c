"""``kind = "python"``: a ``module:function`` returning text, or yielding it (sync or async)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from agentfm_nb.mesh.agents.base import AgentError, split_text

_MAX_PENDING = 256  # items a sync generator may run ahead of its reader
T = TypeVar("T")


def _in_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run blocking agent code on its own daemon thread (one per task, never one per line).

    Not the loop's default executor: a long agent must not starve the server's own thread work,
    and a daemon thread stuck in user code cannot hold up the gateway's exit.
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def run() -> None:
        try:
            result: Any = fn()
            ok = True
        except BaseException as exc:
            result, ok = exc, False
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(deliver, ok, result)

    threading.Thread(target=run, name="agentfm-pyagent", daemon=True).start()
    return fut


def load_callable(target: str, *, base_dir: Path | None = None) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (or ``"path/to/file.py:function"``)."""
    module_name, _, attr = target.partition(":")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            spec = importlib.util.spec_from_file_location(f"agentfm_agent_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except Exception as exc:
        raise AgentError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    func: Any = module
    for part in attr.split("."):
        func = getattr(func, part, None)
        if func is None:
            raise AgentError(f"{module_name!r} has no attribute {attr!r}")
    if not callable(func):
        raise AgentError(f"{target!r} is not callable")
    result: Callable[..., Any] = func
    return result


def _wants_output_dir(func: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    optional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or len(optional) >= 2


class PythonAgent:
    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        self.uses_output_dir = _wants_output_dir(func)

    @classmethod
    def from_target(cls, target: str, *, base_dir: Path | None = None) -> PythonAgent:
        return cls(load_callable(target, base_dir=base_dir))

    async def stream(self, prompt: str, output_dir: Path | None) -> AsyncIterator[list[str]]:
        args: tuple[Any, ...] = (prompt, output_dir) if self.uses_output_dir else (prompt,)
        func = self.func
        try:
            if inspect.isasyncgenfunction(func):
                async for item in func(*args):
                    lines = _lines_of(item)
                    if lines:
                        yield lines
                return
            if inspect.isgeneratorfunction(func):
                async for lines in _iterate_in_thread(func(*args)):
                    yield lines
                return
            if inspect.iscoroutinefunction(func):
                result = await func(*args)
            else:
                result = await _in_thread(lambda: func(*args))
            if inspect.isawaitable(result):
                result = await result
            if hasattr(result, "__aiter__"):
                async for item in result:
                    lines = _lines_of(item)
                    if lines:
                        yield lines
            elif isinstance(result, (str, bytes)) or result is None:
                lines = _lines_of(result)
                if lines:
                    yield lines
            elif isinstance(result, Iterable):
                async for lines in _iterate_in_thread(iter(result)):
                    yield lines
            else:
                lines = _lines_of(str(result))
                if lines:
                    yield lines
        except AgentError:
            raise
        except Exception as exc:
            raise AgentError(f"agent raised {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        return None


def _lines_of(item: object) -> list[str]:
    if item is None:
        return []
    if isinstance(item, bytes):
        item = item.decode("utf-8", "replace")
    return split_text(item if isinstance(item, str) else str(item))


class _Done:
    pass


_DONE = _Done()


async def _iterate_in_thread(it: Iterator[Any]) -> AsyncIterator[list[str]]:
    """Drive a blocking iterator on its own thread, handing items to the loop as they come.

    One thread for the whole iteration (never one per item); the thread runs at most
    ``_MAX_PENDING`` items ahead, and stops (closing the generator in its own thread) once the
    reader is gone.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    room = threading.Semaphore(_MAX_PENDING)
    stop = threading.Event()

    def push(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is reading
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def run() -> None:
        try:
            for item in it:
                while not room.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                push(item)
            push(_DONE)
        except BaseException as exc:
            push(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    future = _in_thread(run)
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            room.release()
            batch = _lines_of(item)
            # take whatever else is already queued: one batch per wake-up, not per item
            while not queue.empty():
                nxt = queue.get_nowait()
                if nxt is _DONE or isinstance(nxt, BaseException):
                    if batch:
                        yield batch
                    batch = []
                    if isinstance(nxt, BaseException):
                        raise nxt
                    return
                room.release()
                batch.extend(_lines_of(nxt))
            if batch:
                yield batch
    finally:
        stop.set()
        if not future.done():
            # do not wait for a blocked next(): the thread exits on its own
            future.add_done_callback(lambda f: f.exception())


__all__ = ["PythonAgent", "load_callable"]
