"""One background event loop in a daemon thread, shared by the sync client and the widgets.

Why a loop thread rather than nest-asyncio: Jupyter's kernel already runs an asyncio loop in the
main thread. nest-asyncio patches that loop to re-enter itself, which breaks libraries that rely
on asyncio's invariants (anyio, httpx's pool) and can starve the kernel. A separate loop thread
never re-enters Jupyter's running loop: the calling thread just blocks on a
``concurrent.futures.Future`` (interruptible by Ctrl-C / the kernel's interrupt), and background
work submitted by widgets keeps running while cells return at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_CANCEL_GRACE_S = 10.0


class Portal:
    """A daemon thread running its own event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="agentfm-portal", daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def in_portal_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the portal loop; returns at once."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the portal loop and block until it ends.

        On KeyboardInterrupt the coroutine is cancelled; if it catches the cancellation and
        returns (partial results), that value is returned, otherwise KeyboardInterrupt re-raises.
        """
        if self.in_portal_thread():
            coro.close()
            raise RuntimeError("Portal.run() called from the portal thread would deadlock")
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        holder: list[asyncio.Task[T]] = []

        def start() -> None:
            task = self._loop.create_task(coro)
            holder.append(task)

            def transfer(t: asyncio.Task[T]) -> None:
                if t.cancelled():
                    done.cancel()
                elif (exc := t.exception()) is not None:
                    done.set_exception(exc)
                else:
                    done.set_result(t.result())

            task.add_done_callback(transfer)

        self._loop.call_soon_threadsafe(start)
        try:
            return done.result()
        except KeyboardInterrupt:
            self._loop.call_soon_threadsafe(lambda: holder and holder[0].cancel())
            try:
                return done.result(timeout=_CANCEL_GRACE_S)
            except (concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
                raise KeyboardInterrupt from None


_portal: Portal | None = None
_lock = threading.Lock()


def portal() -> Portal:
    """The process-wide portal (started on first use)."""
    global _portal
    if _portal is None:
        with _lock:
            if _portal is None:
                _portal = Portal()
    return _portal


__all__ = ["Portal", "portal"]
