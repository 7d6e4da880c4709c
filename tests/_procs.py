"""Process checks the fault tests share: whether a process is gone (exited, or a zombie left
for a parent that is not ours to reap)."""

from __future__ import annotations

import time

import psutil


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """True once ``pid`` no longer runs; False if it still runs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False
