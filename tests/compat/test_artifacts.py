"""``ArtifactManager`` and ``client.artifacts``: the SDK's behaviour on the same zips; safety."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import pytest
from agentfm.artifacts import ArtifactManager as SdkManager
from agentfm.exceptions import ArtifactError as SdkArtifactError

from agentfm_nb import AgentFMClient, ArtifactError, ArtifactManager, AsyncAgentFMClient
from agentfm_nb.artifacts import DEFAULT_MAX_EXTRACT_BYTES


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_defaults_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ours, theirs = ArtifactManager(), SdkManager()
    assert (ours.watch_dir, ours.extract_dir) == (theirs.watch_dir, theirs.extract_dir)
    assert ours.watch_dir == tmp_path.resolve() / "agentfm_artifacts"
    assert ours.max_extract_bytes == theirs.max_extract_bytes == DEFAULT_MAX_EXTRACT_BYTES
    m = ArtifactManager(watch_dir="w", extract_dir=Path("e"), max_extract_bytes=10)
    assert (m.watch_dir, m.extract_dir, m.max_extract_bytes) == (
        tmp_path.resolve() / "w",
        tmp_path.resolve() / "e",
        10,
    )


def test_extract_same_files_as_the_sdk(tmp_path: Path) -> None:
    members = {"hello.txt": b"hi", "nested/world.txt": b"wow", "dir/": b""}
    for name, cls in (("ours", ArtifactManager), ("sdk", SdkManager)):
        src = _zip(tmp_path / f"{name}.zip", members)
        out = tmp_path / f"out-{name}"
        files = cls(watch_dir=tmp_path, extract_dir=out).extract(src)
        assert sorted(p.relative_to(out).as_posix() for p in files) == [
            "hello.txt",
            "nested/world.txt",
        ]
    assert _tree(tmp_path / "out-ours") == _tree(tmp_path / "out-sdk")


@pytest.mark.parametrize("evil", ["../../escape.txt", "/abs/escape.txt", "a/../../escape.txt"])
def test_zip_slip_refused_like_the_sdk(tmp_path: Path, evil: str) -> None:
    sides = (("ours", ArtifactManager, ArtifactError), ("sdk", SdkManager, SdkArtifactError))
    for name, cls, error in sides:
        bad = _zip(tmp_path / f"{name}.zip", {evil: b"pwned"})
        with pytest.raises(error, match="escapes"):
            cls(watch_dir=tmp_path, extract_dir=tmp_path / name / "out").extract(bad)
    assert not list(tmp_path.parent.rglob("escape.txt"))


def test_size_cap_refused_and_nothing_half_written(tmp_path: Path) -> None:
    out = tmp_path / "shared"
    out.mkdir()
    (out / "earlier-task.txt").write_bytes(b"keep me")
    big = _zip(tmp_path / "big.zip", {"a.txt": b"a" * 600, "sub/b.txt": b"b" * 600})
    with pytest.raises(ArtifactError):
        ArtifactManager(watch_dir=tmp_path, extract_dir=out, max_extract_bytes=1000).extract(big)
    with pytest.raises(SdkArtifactError):
        SdkManager(watch_dir=tmp_path, extract_dir=tmp_path / "s", max_extract_bytes=1000).extract(
            big
        )
    # the refused archive left nothing, and an earlier task's file in the folder survived
    assert _tree(out) == {"earlier-task.txt": b"keep me"}
    assert not (out / "sub").exists()


def test_corrupt_and_missing(tmp_path: Path) -> None:
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"not a zip at all")
    m = ArtifactManager(watch_dir=tmp_path, extract_dir=tmp_path / "out")
    with pytest.raises(ArtifactError, match="corrupt"):
        m.extract(bad)
    with pytest.raises(ArtifactError, match="not found"):
        m.extract(tmp_path / "nope.zip")


def test_latest_zip_and_cleanup(tmp_path: Path) -> None:
    m = ArtifactManager(watch_dir=tmp_path, extract_dir=tmp_path / "out")
    assert m.latest_zip() is None
    a = _zip(tmp_path / "a.zip", {"x": b"x"})
    b = _zip(tmp_path / "b.zip", {"y": b"y"})
    os.utime(a, (1_000_000, 1_000_000))
    assert m.latest_zip() == b == SdkManager(watch_dir=tmp_path).latest_zip()
    m.cleanup(b)
    m.cleanup(b)  # twice: no error
    assert not b.exists() and m.latest_zip() == a
    assert ArtifactManager(watch_dir=tmp_path / "missing").latest_zip() is None


def test_collect_for_task_takes_only_its_own_zip(tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = ArtifactManager(watch_dir=tmp_path, extract_dir=out)
    _zip(tmp_path / "task_other.zip", {"other.txt": b"not mine"})
    assert m.collect_for_task("task_mine", timeout=0.2) == []
    _zip(tmp_path / "task_mine.zip", {"hello.txt": b"hi"})
    files = m.collect_for_task("task_mine", timeout=5.0)
    assert files == [out.resolve() / "hello.txt"] and files[0].read_bytes() == b"hi"
    assert not (tmp_path / "task_mine.zip").exists(), "the zip is deleted once extracted"
    assert (tmp_path / "task_other.zip").exists(), "another task's zip is left alone"
    assert m.collect_for_task("", timeout=0.1) == []
    missing = ArtifactManager(watch_dir=tmp_path / "nope", extract_dir=out)
    assert missing.collect_for_task("task_other", timeout=0.1) == []


def test_wait_for_task_zip_sees_a_zip_that_arrives_later(tmp_path: Path) -> None:
    m = ArtifactManager(watch_dir=tmp_path)
    assert m.wait_for_task_zip("t1", timeout=0.2, stable_for=0.01, poll_interval=0.01) is None
    _zip(tmp_path / "t1.zip", {"a": b"a"})
    found = m.wait_for_task_zip("t1", timeout=5, stable_for=0.01, poll_interval=0.01)
    assert found == tmp_path.resolve() / "t1.zip"
    (tmp_path / "t2.zip").write_bytes(b"")  # empty: never "stable"
    assert m.wait_for_task_zip("t2", timeout=0.2, stable_for=0.01, poll_interval=0.01) is None


def test_collect_since_skips_old_zips(tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = ArtifactManager(watch_dir=tmp_path, extract_dir=out)
    old = _zip(tmp_path / "old.zip", {"old.txt": b"stale"})
    os.utime(old, (time.time() - 60, time.time() - 60))
    assert m.collect_since(since=time.time() - 30, timeout=0.1) == []
    _zip(tmp_path / "new.zip", {"a.txt": b"hello"})
    files = m.collect_since(since=time.time() - 30, timeout=5.0)
    assert [p.name for p in files] == ["a.txt"] and not (tmp_path / "new.zip").exists()
    assert ArtifactManager(watch_dir=tmp_path / "nope").collect_since(time.time(), 0.1) == []


async def test_client_artifacts_is_a_manager_or_none(tmp_path: Path) -> None:
    with AgentFMClient("http://127.0.0.1:9", api_key=None) as plain:
        assert plain.artifacts is None
        with_dir = plain.with_options(artifacts_dir=tmp_path / "a")
        try:
            assert isinstance(with_dir.artifacts, ArtifactManager)
            assert with_dir.artifacts.watch_dir == with_dir.artifacts.extract_dir
            assert with_dir.artifacts.watch_dir == (tmp_path / "a").resolve()
        finally:
            with_dir.close()
    async with AsyncAgentFMClient(
        "http://127.0.0.1:9", artifacts_dir=tmp_path / "b", api_key=None
    ) as aclient:
        assert aclient.artifacts is not None
        assert aclient.artifacts.watch_dir == (tmp_path / "b").resolve()
