"""Command agents stream their stdout line by line while they run (in-process runtime)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from _runtime_support import command_worker, peer, pid_alive, running_mesh


def _exists(path: str) -> bool:
    return os.path.exists(path)


GATED = """
import os, sys, time
from pathlib import Path
gate = Path(sys.argv[1])
print("pid", os.getpid())
print("first line")
while not gate.exists():
    time.sleep(0.01)
print("second line")
"""


async def test_lines_arrive_before_the_agent_exits(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    spec = command_worker(tmp_path, "Gated", GATED)
    assert spec.argv is not None
    spec.argv.append(str(gate))
    async with running_mesh(tmp_path, spec) as mesh:
        async with mesh.open_task(peer(mesh, "Gated"), "hi", "t1") as run:
            it = run.lines()
            pid = int((await it.__anext__()).split()[1])
            assert await it.__anext__() == "first line"
            # the agent is blocked on the gate: this line came through while it still runs
            assert pid_alive(pid)
            assert run.status == "running"
            gate.touch()
            rest = [line async for line in it]
        assert rest == ["second line"]
        assert run.status == "ok" and run.error is None and not run.has_artifact


PROMPT_ECHO = """
import os, sys
data = sys.stdin.read()
print("stdin:" + data)
print("env:" + os.environ["AGENTFM_PROMPT"])
print("out:" + os.environ["AGENTFM_OUTPUT_DIR"])
print("unbuffered:" + os.environ.get("PYTHONUNBUFFERED", ""))
print("extra:" + os.environ.get("EXTRA", ""))
print("files:" + ",".join(os.listdir(os.environ["AGENTFM_OUTPUT_DIR"])))
print("[AGENTFM: NO_FILES]")
print("after marker")
"""


async def test_prompt_on_stdin_and_env_and_fresh_output_dir(tmp_path: Path) -> None:
    spec = command_worker(tmp_path, "Prompt", PROMPT_ECHO, env={"EXTRA": "yes"}, max_tasks=2)
    async with running_mesh(tmp_path, spec) as mesh:
        outs = []
        for task_id in ("a1", "a2"):
            async with mesh.open_task(peer(mesh, "Prompt"), "héllo wörld", task_id) as run:
                lines = [line async for line in run.lines()]
            assert run.status == "ok", run.error
            fields = dict(line.split(":", 1) for line in lines if ":" in line)
            assert fields["stdin"] == fields["env"] == "héllo wörld"
            assert fields["unbuffered"] == "1" and fields["extra"] == "yes"
            assert fields["files"] == ""
            outs.append(fields["out"])
            # marker lines printed by an agent pass verbatim, as the real worker forwards them
            assert "[AGENTFM: NO_FILES]" in lines
            assert lines[-1] == "after marker"
        assert outs[0] != outs[1]
        assert not _exists(outs[0])  # per-task folder removed after the task


async def test_long_lines_and_many_lines_keep_order(tmp_path: Path) -> None:
    script = """
    import sys
    big = "x" * (8 * 1024 * 1024)
    sys.stdout.write("start\\n" + big + "\\n")
    sys.stdout.write("".join(f"{i}\\n" for i in range(100000)))
    sys.stdout.write("tail-without-newline")
    """
    spec = command_worker(tmp_path, "Big", script)
    async with running_mesh(tmp_path, spec) as mesh:
        async with mesh.open_task(peer(mesh, "Big"), "", "big1") as run:
            lines = [line async for line in run.lines()]
        assert run.status == "ok", run.error
    assert lines[0] == "start"
    assert len(lines[1]) == 8 * 1024 * 1024
    assert lines[2:-1] == [str(i) for i in range(100000)]
    assert lines[-1] == "tail-without-newline"
    assert run.bytes_out == sum(len(line) + 1 for line in lines) - 1


async def test_demo_mesh_poet_streams_and_scribe_writes_an_artifact(tmp_path: Path) -> None:
    from agentfm_nb.mesh.config import demo_config
    from agentfm_nb.mesh.runtime import Mesh

    mesh = Mesh(demo_config(), artifacts_dir=tmp_path / "art", work_dir=tmp_path / "w")
    await mesh.start()
    try:
        names = {s.name: s for s in mesh.snapshot()}
        assert set(names) == {"Echo", "Poet", "Scribe", "Analyst"}
        assert sys.executable in (mesh.config.workers[1].argv or [])
        async with mesh.open_task(names["Poet"].peer_id, "tea", "poem1") as run:
            poem = [line async for line in run.lines()]
        assert len(poem) == 12 and "tea" in poem[0] and run.status == "ok"
        async with mesh.open_task(names["Scribe"].peer_id, "tea", "rep1") as run:
            await run.wait()
        assert run.has_artifact and (tmp_path / "art" / "rep1.zip").is_file()
        async with mesh.open_task(names["Echo"].peer_id, "a\nb", "echo1") as run:
            assert [line async for line in run.lines()] == ["a", "b"]
        async with mesh.open_task(names["Analyst"].peer_id, "one two three.", "an1") as run:
            text = await run.text()
        assert "words: 3" in text
    finally:
        await mesh.aclose()


async def test_concurrent_streams_on_one_worker(tmp_path: Path) -> None:
    script = """
    import sys
    p = sys.stdin.read()
    for i in range(50):
        print(p, i)
    """
    spec = command_worker(tmp_path, "Multi", script, max_tasks=8)
    async with running_mesh(tmp_path, spec) as mesh:
        pid = peer(mesh, "Multi")

        async def one(i: int) -> list[str]:
            async with mesh.open_task(pid, f"p{i}", f"c{i}") as run:
                return [line async for line in run.lines()]

        results = await asyncio.gather(*(one(i) for i in range(8)))
        for i, lines in enumerate(results):
            assert lines == [f"p{i} {j}" for j in range(50)]
        assert mesh.lookup(pid).current_tasks == 0  # type: ignore[union-attr]
