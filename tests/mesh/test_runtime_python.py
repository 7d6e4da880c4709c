"""``kind = "python"`` agents: plain, generator, async generator and coroutine callables."""

from __future__ import annotations

import asyncio
import os
import threading
import zipfile
from pathlib import Path

import _runtime_pyagents as agents
import pytest
from _runtime_support import peer, python_worker, running_mesh

from agentfm_nb.mesh.taskrun import SANDBOX_EXITED as SANDBOX

MOD = "_runtime_pyagents"


@pytest.mark.parametrize(
    ("func", "prompt", "expected"),
    [
        ("plain", "hi", ["plain:hi", "second"]),
        ("gen", "g", ["g-0", "g-1", "g-2"]),
        ("agen", "a b c", ["a", "b", "c"]),
        ("coro", "up", ["UP"]),
    ],
)
async def test_callable_shapes(tmp_path: Path, func: str, prompt: str, expected: list[str]) -> None:
    async with running_mesh(tmp_path, python_worker("Py", f"{MOD}:{func}")) as mesh:
        async with mesh.open_task(peer(mesh, "Py"), prompt, "py1") as run:
            assert [line async for line in run.lines()] == expected
        assert run.status == "ok" and run.error is None


async def test_output_dir_argument_and_artifact(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, python_worker("Dir", f"{MOD}:with_dir")) as mesh:
        async with mesh.open_task(peer(mesh, "Dir"), "content", "dir1") as run:
            assert await run.text() == "wrote"
        assert run.has_artifact
        with zipfile.ZipFile(mesh.artifacts_dir / "dir1.zip") as zf:
            assert zf.read("made.txt") == b"content"
        assert list(mesh.outputs.root.iterdir()) == []  # the task's folder is gone


async def test_agent_without_output_dir_gets_no_folder(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    async def watch(mesh_root: Path) -> None:
        while True:  # sample the folder while the task runs
            seen.append(os.listdir(mesh_root))
            await asyncio.sleep(0)

    async with running_mesh(tmp_path, python_worker("Py", f"{MOD}:gen")) as mesh:
        watcher = asyncio.ensure_future(watch(mesh.outputs.root))
        try:
            async with mesh.open_task(peer(mesh, "Py"), "g", "nodir1") as run:
                assert [line async for line in run.lines()] == ["g-0", "g-1", "g-2"]
        finally:
            watcher.cancel()
        assert run.status == "ok" and not run.has_artifact
    assert seen and all(entries == [] for entries in seen)


async def test_fast_sync_generator_keeps_order(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, python_worker("Many", f"{MOD}:many")) as mesh:
        run = mesh.open_task(peer(mesh, "Many"), "", "many1")
        async with run:
            lines = [line async for line in run.lines()]
    assert lines == [str(i) for i in range(20000)]


async def test_exception_becomes_error_status(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, python_worker("Boom", f"{MOD}:boom")) as mesh:
        async with mesh.open_task(peer(mesh, "Boom"), "", "boom1") as run:
            lines = [line async for line in run.lines()]
        # as a containerised python agent's stderr and the real worker's exit line read
        assert lines == ["before", "RuntimeError: agent blew up", SANDBOX + "exit status 1"]
        assert run.status == "error" and "RuntimeError: agent blew up" in (run.error or "")


async def test_sync_generator_runs_off_loop_and_stops_on_cancel(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, python_worker("Slow", f"{MOD}:slow_gen")) as mesh:
        ticker_ran = 0

        async def ticker() -> None:
            nonlocal ticker_ran
            while True:
                await asyncio.sleep(0.005)
                ticker_ran += 1

        tick = asyncio.create_task(ticker())
        async with mesh.open_task(peer(mesh, "Slow"), "", "slow1") as run:
            async for line in run.lines():
                if line == "tick 5":
                    break
        tick.cancel()
        assert ticker_ran > 5  # the loop kept running while the generator slept
        assert agents.STATE["thread"] != threading.current_thread().name
        for _ in range(200):
            if agents.STATE["closed"]:
                break
            await asyncio.sleep(0.01)
        assert agents.STATE["closed"] is True
        count = agents.STATE["count"]
        await asyncio.sleep(0.1)
        assert agents.STATE["count"] == count < 1000  # iteration stopped
        assert run.status == "error"


async def test_async_agent_timeout(tmp_path: Path) -> None:
    spec = python_worker("Hang", f"{MOD}:hang", timeout_s=0.3)
    async with running_mesh(tmp_path, spec) as mesh:
        async with mesh.open_task(peer(mesh, "Hang"), "", "hang1") as run:
            assert [line async for line in run.lines()] == [SANDBOX + "signal: killed"]
        assert run.status == "error" and run.error == "timed out after 0.3s" and run.timed_out
        assert mesh.lookup(peer(mesh, "Hang")).current_tasks == 0  # type: ignore[union-attr]


async def test_file_callable_relative_to_config(tmp_path: Path) -> None:
    from agentfm_nb.mesh.config import parse_config
    from agentfm_nb.mesh.runtime import Mesh

    (tmp_path / "myagent.py").write_text("def run(prompt):\n    return prompt[::-1]\n")
    cfg = parse_config(
        '[[workers]]\nname="Rev"\nengine="e"\ncallable="myagent.py:run"', base_dir=tmp_path
    )
    async with Mesh(cfg, artifacts_dir=tmp_path / "a", work_dir=tmp_path / "w") as mesh:
        run = mesh.open_task(peer(mesh, "Rev"), "abc", "rev1")
        async with run:
            assert await run.text() == "cba"
