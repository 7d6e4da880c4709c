"""Agents that crash, exit non-zero, hang or get abandoned: clean ends, no orphans, slots freed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _runtime_support import command_worker, peer, pid_alive, running_mesh

from agentfm_nb.mesh.config import WorkerSpec
from agentfm_nb.mesh.taskrun import SANDBOX_EXITED as SANDBOX

# prints its own pid and a grandchild's pid, then blocks forever
FAMILY = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("pids", os.getpid(), child.pid, flush=True)
print("working", flush=True)
time.sleep(600)
"""


async def _wait_gone(*pids: int) -> bool:
    for _ in range(200):
        if not any(pid_alive(p) for p in pids):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_non_zero_exit_ends_cleanly_with_the_code(tmp_path: Path) -> None:
    script = """
    import sys
    print("partial output")
    print("something went wrong", file=sys.stderr)
    sys.exit(3)
    """
    async with running_mesh(tmp_path, command_worker(tmp_path, "Bad", script)) as mesh:
        async with mesh.open_task(peer(mesh, "Bad"), "x", "bad1") as run:
            lines = [line async for line in run.lines()]
        # stderr shares the stream, then the real worker's exit line
        want = ["partial output", "something went wrong", SANDBOX + "exit status 3"]
        assert lines == want, (run.status, run.error)
        assert run.status == "error" and run.exit_code == 3
        assert run.error is not None and "code 3" in run.error
        assert "something went wrong" in run.error
        assert mesh.lookup(peer(mesh, "Bad")).current_tasks == 0  # type: ignore[union-attr]


async def test_crash_by_signal_mid_stream(tmp_path: Path) -> None:
    script = """
    import os, signal
    print("before crash", flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)
    """
    async with running_mesh(tmp_path, command_worker(tmp_path, "Crash", script)) as mesh:
        async with mesh.open_task(peer(mesh, "Crash"), "x", "crash1") as run:
            lines = [line async for line in run.lines()]
        assert lines == ["before crash", SANDBOX + "signal: segmentation fault"]
        assert run.status == "error" and run.error is not None and "SIGSEGV" in run.error


async def test_missing_executable_is_an_error_not_an_exception(tmp_path: Path) -> None:
    spec = WorkerSpec(
        name="Ghost", engine="e", kind="command", argv=[str(tmp_path / "no-such-binary")]
    )
    async with running_mesh(tmp_path, spec) as mesh:
        async with mesh.open_task(peer(mesh, "Ghost"), "x", "ghost1") as run:
            lines = [line async for line in run.lines()]
        assert len(lines) == 1 and lines[0].startswith("\u274c Failed to start task: ")
        assert run.status == "error" and "cannot start agent" in (run.error or "")
        assert mesh.lookup(peer(mesh, "Ghost")).current_tasks == 0  # type: ignore[union-attr]


async def test_hanging_agent_times_out_and_its_group_is_killed(tmp_path: Path) -> None:
    spec = command_worker(tmp_path, "Hang", FAMILY, timeout_s=1.0)
    async with running_mesh(tmp_path, spec) as mesh:
        async with mesh.open_task(peer(mesh, "Hang"), "x", "hang1") as run:
            lines = [line async for line in run.lines()]
        assert lines[1] == "working"
        pids = [int(p) for p in lines[0].split()[1:]]
        assert run.status == "error" and run.error == "timed out after 1s"
        assert await _wait_gone(*pids)
        assert mesh.lookup(peer(mesh, "Hang")).current_tasks == 0  # type: ignore[union-attr]


async def test_leaving_early_kills_the_whole_process_group(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, command_worker(tmp_path, "Fam", FAMILY)) as mesh:
        pid = peer(mesh, "Fam")
        events: list[str] = []
        async with mesh.events.subscribe() as sub:
            async with mesh.open_task(pid, "x", "fam1") as run:
                async for line in run.lines():
                    if line.startswith("pids"):
                        pids = [int(p) for p in line.split()[1:]]
                        break
                assert all(pid_alive(p) for p in pids)
                assert mesh.lookup(pid).current_tasks == 1  # type: ignore[union-attr]
            # the context is left: agent and grandchild are gone, the slot is free
            assert await _wait_gone(*pids)
            assert mesh.lookup(pid).current_tasks == 0  # type: ignore[union-attr]
            assert run.status == "error" and run.error == "cancelled by the client"
            while (ev := await sub.get(timeout=1.0)) is not None:
                events.append(ev.name)
                if ev.name == "task_finished":
                    assert ev.data["status"] == "error"
                    break
        assert events == ["task_started", "task_finished"]


async def test_consumer_task_cancelled_mid_stream(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, command_worker(tmp_path, "Fam", FAMILY)) as mesh:
        pid = peer(mesh, "Fam")
        got: asyncio.Queue[list[int]] = asyncio.Queue()

        async def consume() -> None:
            async with mesh.open_task(pid, "x", "fam2") as run:
                async for line in run.lines():
                    if line.startswith("pids"):
                        got.put_nowait([int(p) for p in line.split()[1:]])

        task = asyncio.create_task(consume())
        pids = await asyncio.wait_for(got.get(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _wait_gone(*pids)
        assert mesh.lookup(pid).current_tasks == 0  # type: ignore[union-attr]


async def test_mesh_close_kills_running_agents(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, command_worker(tmp_path, "Fam", FAMILY)) as mesh:
        run = mesh.open_task(peer(mesh, "Fam"), "x", "fam3")
        await run.__aenter__()
        it = run.lines()
        pids = [int(p) for p in (await it.__anext__()).split()[1:]]
        await mesh.aclose()
        rest = [line async for line in it]
        # the real worker's shutdown kills the sandbox: its exit line still reaches the client
        assert rest in ([SANDBOX + "signal: killed"], ["working", SANDBOX + "signal: killed"])
        assert run.status == "error" and run.error == "gateway shutting down"
        assert await _wait_gone(*pids)
        await run.__aexit__(None, None, None)


async def test_slots_busy_and_released(tmp_path: Path) -> None:
    from agentfm_nb.mesh.refusals import UnknownWorker, WorkerBusy

    spec = command_worker(tmp_path, "Two", "import sys; sys.stdin.read(); print('ok')", max_tasks=2)
    async with running_mesh(tmp_path, spec) as mesh:
        pid = peer(mesh, "Two")
        r1 = mesh.open_task(pid, "x", "s1")
        r2 = mesh.open_task(pid, "x", "s2")
        snap = mesh.lookup(pid)
        assert snap is not None and snap.current_tasks == 2 and snap.status == "BUSY"
        assert snap.to_wire()["status"] == "BUSY"
        with pytest.raises(WorkerBusy):
            mesh.open_task(pid, "x", "s3")
        await r2.aclose()  # never entered: the reservation is returned
        async with r1:
            await r1.wait()
        assert r1.status == "ok"
        snap = mesh.lookup(pid)
        assert snap is not None and snap.current_tasks == 0 and snap.status == "AVAILABLE"
        with pytest.raises(UnknownWorker):
            mesh.open_task("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq", "x", "s4")
        with pytest.raises(ValueError):
            mesh.open_task(pid, "x", "../escape")


async def test_drain_ends_streams_normally_and_refuses_new_tasks(tmp_path: Path) -> None:
    from agentfm_nb.mesh.refusals import UnknownWorker

    spec = command_worker(tmp_path, "Fam", FAMILY, max_tasks=3)
    async with running_mesh(tmp_path, spec) as mesh:
        pid = peer(mesh, "Fam")
        got: asyncio.Queue[list[int]] = asyncio.Queue()

        async def consume(i: int) -> tuple[list[str], str, str | None]:
            async with mesh.open_task(pid, "x", f"drain{i}") as run:
                lines = []
                async for line in run.lines():
                    lines.append(line)
                    if line.startswith("pids"):
                        got.put_nowait([int(p) for p in line.split()[1:]])
            return lines, run.status, run.error

        tasks = [asyncio.create_task(consume(i)) for i in range(2)]
        pids = (await got.get()) + (await got.get())
        idle = mesh.open_task(pid, "x", "drain-idle")  # reserved, never entered
        await mesh.drain()
        for lines, status, error in await asyncio.gather(*tasks):
            assert lines[0].startswith("pids")
            assert (status, error) == ("error", "gateway shutting down")
        assert idle.status == "error" and idle.done
        assert await _wait_gone(*pids)
        assert mesh.lookup(pid).current_tasks == 0  # type: ignore[union-attr]
        with pytest.raises(UnknownWorker):
            mesh.open_task(pid, "x", "late")
