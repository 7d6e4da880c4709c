"""Helpers for the HTTP tests (G2): an in-process gateway on a real loopback socket.

Used where a test needs ``create_app`` knobs (a lower async cap, a short SSE heartbeat); every
other test talks to real ``python -m agentfm_nb.mesh`` processes from the shared fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from agentfm_nb.mesh.app import create_app
from agentfm_nb.mesh.config import MeshConfig, WorkerSpec
from agentfm_nb.mesh.runtime import Mesh
from agentfm_nb.mesh.server import GatewayServer
from tests.mesh._runtime_support import pid_alive as pid_alive  # re-exported for the tests


@dataclass
class Served:
    url: str
    mesh: Mesh
    app: Starlette

    def peer(self, name: str) -> str:
        for snap in self.mesh.snapshot(include_offline=True):
            if snap.name == name:
                return snap.peer_id
        raise KeyError(name)


@contextlib.asynccontextmanager
async def serve_inprocess(
    tmp_path: Path, workers: list[WorkerSpec], **app_kwargs: Any
) -> AsyncIterator[Served]:
    """A mesh + app + uvicorn on 127.0.0.1:0 inside the test's event loop."""
    mesh = Mesh(
        MeshConfig(workers=workers, seed="http-tests"),
        artifacts_dir=tmp_path / "artifacts",
        work_dir=tmp_path / "work",
    )
    await mesh.start()
    app_kwargs.setdefault("api_keys", None)
    app = create_app(mesh, **app_kwargs)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = GatewayServer(config, app, handle_signals=False)
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.01)
        assert server.bound is not None
        yield Served(f"http://127.0.0.1:{server.bound[1]}", mesh, app)
    finally:
        server.request_exit()
        await task
        await mesh.aclose()


def command_worker(tmp_path: Path, name: str, script: str, **kw: Any) -> WorkerSpec:
    path = tmp_path / f"agent_{name.lower().replace(' ', '_')}.py"
    path.write_text(textwrap.dedent(script).lstrip(), encoding="utf-8")
    kw.setdefault("engine", "test")
    kw.setdefault("author", "tests")
    return WorkerSpec(name=name, kind="command", argv=[sys.executable, "-u", str(path)], **kw)


def echo_worker(name: str = "Echo", **kw: Any) -> WorkerSpec:
    kw.setdefault("engine", "echo")
    kw.setdefault("max_tasks", 8)
    return WorkerSpec(name=name, kind="python", callable="agentfm_nb.mesh.demo:echo", **kw)


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll ``predicate`` until true or ``timeout`` (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


async def await_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


# An agent that prints its pid, one line, then blocks until a release file appears.
GATED_AGENT = """
import os, sys, time
from pathlib import Path
gate = Path(os.environ["GATE_DIR"])
(gate / f"pid-{os.getpid()}").write_text(str(os.getpid()))
print("first line", flush=True)
release = gate / "release"
for _ in range(6000):
    if release.exists():
        break
    time.sleep(0.01)
print("second line", flush=True)
"""
