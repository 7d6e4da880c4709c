"""Process plumbing for the launcher: free ports, parent-death signals, killing a process tree."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

import psutil

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the caller retries if another process wins the race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pdeathsig_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when its parent dies.

    Linux ties the signal to the *thread* that forked, so it is only armed from the main thread;
    elsewhere (and on other systems) the watchdog sidecar is the only guard.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    libc_name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        # Resolved before fork: nothing non-trivial should run between fork and exec.
        prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    sigterm = int(signal.SIGTERM)

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def same_process(pid: int, create_time: float) -> psutil.Process | None:
    """The live process ``pid`` if it is still the one started at ``create_time`` (no pid reuse)."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > 0.01:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def kill_tree(
    proc: psutil.Process,
    *,
    grace: float,
    waiter: Callable[[float], bool] | None = None,
) -> None:
    """SIGTERM ``proc``, wait ``grace`` s, then SIGKILL it and every descendant seen on the way.

    Descendants still alive after the graceful exit are killed too: the gateway is supposed to
    clean up its agents on SIGTERM, but nothing it started may outlive it. ``waiter(timeout)``
    waits for ``proc`` (and reaps it) when the caller is its parent.
    """
    family = descendants(proc)
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.send_signal(signal.SIGTERM)
    exited = waiter(grace) if waiter else _wait_gone(proc, grace)
    family += [p for p in descendants(proc) if p not in family]
    if not exited:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.kill()
        if waiter:
            waiter(5.0)
        else:
            _wait_gone(proc, 5.0)
    for child in family:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            child.kill()
    psutil.wait_procs(family, timeout=2.0)


def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False
