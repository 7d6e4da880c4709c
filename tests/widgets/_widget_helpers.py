"""Helpers for widget tests: record what a widget sends to the browser over its comm."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class CommRecorder:
    """Wraps a widget's comm: every custom message and state update it sends, with buffers."""

    def __init__(self, widget: Any) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        self._lock = threading.Lock()
        comm = widget.comm
        original = comm.send

        def send(data: Any = None, metadata: Any = None, buffers: Any = None, **kw: Any) -> Any:
            with self._lock:
                self.messages.append((data, [bytes(b) for b in (buffers or [])]))
            return original(data=data, metadata=metadata, buffers=buffers, **kw)

        comm.send = send

    def custom(self, kind: str | None = None) -> list[tuple[dict[str, Any], list[bytes]]]:
        with self._lock:
            out = [
                (m["content"], b)
                for m, b in self.messages
                if isinstance(m, dict) and m.get("method") == "custom"
            ]
        return [(c, b) for c, b in out if kind is None or c.get("kind") == kind]

    def updates(self, key: str) -> list[Any]:
        with self._lock:
            return [
                m["state"][key]
                for m, _ in self.messages
                if isinstance(m, dict) and m.get("method") == "update" and key in m.get("state", {})
            ]


def wait_until(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
