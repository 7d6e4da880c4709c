"""Output folders become ``<task_id>.zip`` atomically; links, special files, oversize refused."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import pytest
from _runtime_support import command_worker, peer, running_mesh

from agentfm_nb.mesh.artifacts import ArtifactRefused, build_artifact
from agentfm_nb.mesh.taskrun import TaskRun

WRITER = """
import os, sys
from pathlib import Path
out = Path(os.environ["AGENTFM_OUTPUT_DIR"])
mode = sys.stdin.read().strip()
(out / "report.md").write_text("# hello\\n")
(out / "sub").mkdir()
(out / "sub" / "data.bin").write_bytes(os.urandom(2048))
if mode == "symlink":
    os.symlink(os.environ["SECRET"], out / "leak.txt")
elif mode == "dirlink":
    os.symlink(os.path.dirname(os.environ["SECRET"]), out / "leakdir")
elif mode == "fifo":
    os.mkfifo(out / "pipe")
elif mode == "big":
    (out / "big.bin").write_bytes(b"z" * 5000)
print("wrote", mode)
"""


def _read(path: Path) -> str:
    return path.read_text()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_text("TOP-SECRET-CONTENT")
    return path


async def _run(tmp_path: Path, mode: str, secret: Path, **cfg: Any) -> tuple[TaskRun, Path]:
    spec = command_worker(tmp_path, "Writer", WRITER, env={"SECRET": str(secret)})
    async with running_mesh(tmp_path, spec, **cfg) as mesh:
        async with mesh.open_task(peer(mesh, "Writer"), mode, f"job-{mode}") as run:
            lines = [line async for line in run.lines()]
        assert lines[0] == f"wrote {mode}"
        assert lines[1:] == ([] if run.status == "ok" else [f"\u274c ERROR: {run.error}"])
        return run, mesh.artifacts_dir


async def test_output_folder_is_zipped(tmp_path: Path, secret: Path) -> None:
    run, art = await _run(tmp_path, "plain", secret)
    assert run.status == "ok" and run.has_artifact
    zpath = art / "job-plain.zip"
    assert run.artifact_path == zpath
    with zipfile.ZipFile(zpath) as zf:
        assert sorted(zf.namelist()) == ["report.md", "sub/data.bin"]
        assert zf.read("report.md") == b"# hello\n"
        assert zf.testzip() is None
    # only the final name exists: the temp name was renamed into place
    assert sorted(p.name for p in art.iterdir()) == ["job-plain.zip"]


@pytest.mark.parametrize("mode", ["symlink", "dirlink", "fifo"])
async def test_links_and_special_files_are_refused(tmp_path: Path, secret: Path, mode: str) -> None:
    run, art = await _run(tmp_path, mode, secret)
    assert run.status == "error" and not run.has_artifact
    assert "artifact refused" in (run.error or "")
    assert list(art.iterdir()) == []
    assert _read(secret) == "TOP-SECRET-CONTENT"  # untouched, and never zipped


async def test_size_cap_is_refused(tmp_path: Path, secret: Path) -> None:
    run, art = await _run(tmp_path, "big", secret, artifact_max_bytes=4096)
    assert run.status == "error" and not run.has_artifact
    assert "size cap" in (run.error or "")
    assert list(art.iterdir()) == []


def test_build_artifact_reads_nothing_outside(tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "out"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.txt").write_text("fine")
    os.symlink(secret, root / "a" / "evil")
    dest = tmp_path / "art" / "x.zip"
    with pytest.raises(ArtifactRefused, match="symbolic link: a/evil"):
        build_artifact(root, dest, max_bytes=10_000)
    assert not dest.exists() and not any((tmp_path / "art").glob("*"))
    # an empty output folder is no artifact at all
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build_artifact(empty, tmp_path / "art" / "y.zip", max_bytes=10) is False


async def test_failed_agent_keeps_its_partial_files(tmp_path: Path) -> None:
    script = """
    import os, sys
    from pathlib import Path
    (Path(os.environ["AGENTFM_OUTPUT_DIR"]) / "partial.txt").write_text("half")
    sys.exit(1)
    """
    async with running_mesh(tmp_path, command_worker(tmp_path, "Half", script)) as mesh:
        async with mesh.open_task(peer(mesh, "Half"), "", "half1") as run:
            await run.wait()
        assert run.status == "error" and run.exit_code == 1 and run.has_artifact
        with zipfile.ZipFile(mesh.artifacts_dir / "half1.zip") as zf:
            assert zf.read("partial.txt") == b"half"
