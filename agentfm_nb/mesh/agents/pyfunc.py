"""``kind = "python"``: a ``module:function`` returning text, or yielding it (sync or async).

Blocking code runs on a thread per task. When the task ends first (timeout, client gone) the
thread is interrupted, and the worker's slot stays taken until it has really stopped, so a stuck
agent can never pile up threads beyond its ``max_tasks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import importlib.util
import inspect
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from agentfm_nb.mesh.agents.base import AgentError, Hold

_MAX_PENDING = 256  # items a sync generator may run ahead of its reader
T = TypeVar("T")


class AgentStopped(BaseException):
    """Raised inside a python agent's thread when its task ended (timeout, client gone).

    A BaseException, so agent code catching ``Exception`` does not swallow it.
    """


def _interrupt(thread: threading.Thread) -> None:
    """Ask ``thread`` to raise :class:`AgentStopped` at its next Python instruction.

    A pure-Python loop stops at once; a blocking C call (``time.sleep``) stops when it returns,
    and until then the task's slot stays taken (see ``hold``).
    """
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(AgentStopped)
    )


class _Threaded(asyncio.Future[T]):
    """The result of blocking agent code, plus the thread computing it."""

    thread: threading.Thread
    returned: bool  # the agent's code is over; only our own delivery is left

    def stop(self, hold: Hold, *, interrupt: bool = True) -> None:
        """The task is over: interrupt the thread and keep the slot until it has ended."""
        if not self.done():
            if interrupt and not self.returned:
                _interrupt(self.thread)
            hold(_thread_gone(self.thread))
        self.add_done_callback(_consume)


async def _thread_gone(thread: threading.Thread) -> None:
    # Polled rather than tied to the result: the slot must come back even if an interrupt
    # landed in our own delivery code instead of the agent's.
    while thread.is_alive():  # noqa: ASYNC110 (a thread has nothing to await)
        await asyncio.sleep(0.05)


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _in_thread(fn: Callable[[], T]) -> _Threaded[T]:
    """Run blocking agent code on its own daemon thread (one per task, never one per line).

    Not the loop's default executor: a long agent must not starve the server's own thread work,
    and a daemon thread stuck in user code cannot hold up the gateway's exit.
    """
    loop = asyncio.get_running_loop()
    fut: _Threaded[T] = _Threaded(loop=loop)
    fut.returned = False

    def deliver(ok: bool, value: Any) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def run() -> None:
        try:
            try:
                result: Any = fn()
                ok = True
            except BaseException as exc:
                result, ok = exc, False
            fut.returned = True
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(deliver, ok, result)
        except AgentStopped:
            pass  # a late interrupt; the hold polls the thread, not this result

    fut.thread = threading.Thread(target=run, name="agentfm-pyagent", daemon=True)
    fut.thread.start()
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
        # decided once: inspect's checks cost more than a tiny agent's whole call
        self._asyncgen = inspect.isasyncgenfunction(func)
        self._gen = inspect.isgeneratorfunction(func)
        self._coro = inspect.iscoroutinefunction(func)

    @classmethod
    def from_target(cls, target: str, *, base_dir: Path | None = None) -> PythonAgent:
        return cls(load_callable(target, base_dir=base_dir))

    async def stream(
        self, prompt: str, output_dir: Path | None, hold: Hold
    ) -> AsyncIterator[bytes]:
        """Each item the callable returns or yields, as ``print`` would write it."""
        args: tuple[Any, ...] = (prompt, output_dir) if self.uses_output_dir else (prompt,)
        func = self.func
        try:
            if self._asyncgen:
                async for item in func(*args):
                    if data := _printed(item):
                        yield data
                return
            if self._gen:
                async for data in _iterate_in_thread(func(*args), hold):
                    yield data
                return
            if self._coro:
                result = await func(*args)
            else:
                call = _in_thread(lambda: func(*args))
                try:
                    result = await asyncio.shield(call)
                finally:
                    call.stop(hold)
            if isinstance(result, str):  # the usual answer: no further checks
                if data := _printed(result):
                    yield data
                return
            if inspect.isawaitable(result):
                result = await result
            if hasattr(result, "__aiter__"):
                async for item in result:
                    if data := _printed(item):
                        yield data
            elif isinstance(result, (str, bytes)) or result is None:
                if data := _printed(result):
                    yield data
            elif isinstance(result, Iterable):
                async for data in _iterate_in_thread(iter(result), hold):
                    yield data
            elif data := _printed(str(result)):
                yield data
        except AgentError:
            raise
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n")
            raise AgentError(f"agent raised {type(exc).__name__}: {exc}", detail=detail) from exc

    async def aclose(self) -> None:
        return None


def _printed(item: object) -> bytes:
    """One returned or yielded item as agent output: ending with a newline, as ``print`` would."""
    if item is None:
        return b""
    if isinstance(item, bytes):
        data = item
    else:
        data = (item if isinstance(item, str) else str(item)).encode("utf-8", "replace")
    if not data:
        return b""
    return data if data.endswith(b"\n") else data + b"\n"


class _Done:
    pass


_DONE = _Done()


async def _iterate_in_thread(it: Iterator[Any], hold: Hold) -> AsyncIterator[bytes]:
    """Drive a blocking iterator on its own thread, handing items to the loop as they come.

    One thread for the whole iteration (never one per item); the thread runs at most
    ``_MAX_PENDING`` items ahead, and stops (closing the generator in its own thread) once the
    reader is gone; a ``next()`` that blocks is interrupted and holds the slot meanwhile.
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
        except AgentStopped:
            return
        except BaseException as exc:
            push(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                with contextlib.suppress(BaseException):
                    close()

    future = _in_thread(run)
    finished = False
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                finished = True
                break
            if isinstance(item, BaseException):
                finished = True
                raise item
            room.release()
            parts = [_printed(item)]
            # take whatever else is already queued: one chunk per wake-up, not per item
            while not queue.empty():
                nxt = queue.get_nowait()
                if nxt is _DONE or isinstance(nxt, BaseException):
                    finished = True
                    if data := b"".join(parts):
                        yield data
                    if isinstance(nxt, BaseException):
                        raise nxt
                    return
                room.release()
                parts.append(_printed(nxt))
            if data := b"".join(parts):
                yield data
    finally:
        stop.set()
        # a reader that saw the end lets the thread finish on its own; one that left interrupts
        future.stop(hold, interrupt=not finished)


__all__ = ["AgentStopped", "PythonAgent", "load_callable"]
