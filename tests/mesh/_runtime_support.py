"""Helpers for the in-process runtime tests (G1): agent scripts in tmp dirs, a running mesh."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agentfm_nb.mesh.config import MeshConfig, WorkerSpec
from agentfm_nb.mesh.runtime import Mesh


def command_worker(tmp_path: Path, name: str, script: str, **kw: Any) -> WorkerSpec:
    """A command worker running ``script`` (dedented Python) with this interpreter."""
    path = tmp_path / f"agent_{re.sub(r'[^A-Za-z0-9]+', '_', name)}.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    kw.setdefault("engine", "test-engine")
    return WorkerSpec(name=name, kind="command", argv=[sys.executable, "-u", str(path)], **kw)


def python_worker(name: str, target: str, **kw: Any) -> WorkerSpec:
    kw.setdefault("engine", "test-engine")
    return WorkerSpec(name=name, kind="python", callable=target, **kw)


@contextlib.asynccontextmanager
async def running_mesh(tmp_path: Path, *workers: WorkerSpec, **cfg: Any) -> AsyncIterator[Mesh]:
    cfg.setdefault("seed", "runtime-tests")
    mesh = Mesh(
        MeshConfig(workers=list(workers), **cfg),
        artifacts_dir=tmp_path / "artifacts",
        work_dir=tmp_path / "work",
    )
    await mesh.start()
    try:
        yield mesh
    finally:
        await mesh.aclose()


def peer(mesh: Mesh, name: str) -> str:
    for snap in mesh.snapshot(include_offline=True):
        if snap.name == name:
            return snap.peer_id
    raise KeyError(name)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except FileNotFoundError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
