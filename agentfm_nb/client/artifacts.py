"""Harvest ``<artifacts_dir>/<task_id>.zip`` and extract it safely.

Refused with ``ArtifactError``: absolute paths, ``..`` escapes (zip-slip), symlinks and other
non-regular entries, and archives whose uncompressed total exceeds ``max_bytes``. Sizes are
counted while copying, not trusted from the zip header. A refused archive leaves nothing behind:
the files and folders it had created are removed, and nothing else is touched (the destination
may be a folder shared with earlier tasks).

``ArtifactManager`` is the SDK's public object for the same job (``client.artifacts``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
import time
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from agentfm_nb.errors import ArtifactError

DEFAULT_MAX_BYTES = 500 * 1024 * 1024
_POLL_S = 0.05


def zip_path(artifacts_dir: Path, task_id: str) -> Path:
    return artifacts_dir / f"{task_id}.zip"


def wait_for_zip(artifacts_dir: Path, task_id: str, timeout: float) -> Path:
    path = zip_path(artifacts_dir, task_id)
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() >= deadline:
            raise ArtifactError(f"artifact zip {path.name} did not appear within {timeout:g}s")
        time.sleep(_POLL_S)
    return path


async def await_zip(artifacts_dir: Path, task_id: str, timeout: float) -> Path:
    path = zip_path(artifacts_dir, task_id)
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if time.monotonic() >= deadline:
            raise ArtifactError(f"artifact zip {path.name} did not appear within {timeout:g}s")
        await asyncio.sleep(_POLL_S)
    return path


def _safe_member_path(dest: Path, name: str) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (pure.parts and pure.parts[0].endswith(":")) or name.startswith("/"):
        raise ArtifactError(
            f"artifact zip entry escapes its folder (absolute path): {name!r}", code="zip_slip"
        )
    if ".." in pure.parts:
        raise ArtifactError(f"artifact zip escapes its folder: {name!r}", code="zip_slip")
    target = (dest / Path(*pure.parts)).resolve() if pure.parts else dest
    if target != dest and dest not in target.parents:
        raise ArtifactError(f"artifact zip escapes its folder: {name!r}", code="zip_slip")
    return target


def extract_zip(path: Path, dest: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Path]:
    """Validate every entry first, then extract; nothing is written for a bad archive."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArtifactError(f"artifact zip {path.name} is corrupt: {exc}", code="bad_zip") from None
    made = _Created(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    with zf:
        try:
            plan = _plan(zf, dest, max_bytes)
            return _write(zf, plan, max_bytes, made)
        except ArtifactError:
            made.undo()
            raise
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            made.undo()
            raise ArtifactError(
                f"artifact zip {path.name} is corrupt: {exc}", code="bad_zip"
            ) from None


class _Created:
    """What one extraction created, so a refusal can remove exactly that and nothing else."""

    def __init__(self, dest: Path) -> None:
        self.files: list[Path] = []
        self.dirs: list[Path] = []
        self._note_dirs(dest)

    def _note_dirs(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        self.dirs.extend(reversed(missing))

    def mkdir(self, folder: Path) -> None:
        self._note_dirs(folder)
        folder.mkdir(parents=True, exist_ok=True)

    def undo(self) -> None:
        for f in self.files:
            f.unlink(missing_ok=True)
        for d in reversed(self.dirs):  # deepest first; a folder holding other files stays
            with contextlib.suppress(OSError):
                d.rmdir()


def _plan(zf: zipfile.ZipFile, dest: Path, max_bytes: int) -> list[tuple[zipfile.ZipInfo, Path]]:
    plan: list[tuple[zipfile.ZipInfo, Path]] = []
    declared = 0
    for info in zf.infolist():
        mode = stat.S_IFMT(info.external_attr >> 16)  # 0: no type recorded (plain file)
        if mode and stat.S_ISLNK(mode):
            raise ArtifactError(f"artifact zip holds a link: {info.filename!r}", code="link")
        if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ArtifactError(
                f"artifact zip holds a special file: {info.filename!r}", code="special"
            )
        target = _safe_member_path(dest, info.filename)
        declared += info.file_size
        if declared > max_bytes:
            raise ArtifactError(
                f"artifact zip exceeds max_extract_bytes ({max_bytes} bytes)", code="size_cap"
            )
        plan.append((info, target))
    return plan


def _write(
    zf: zipfile.ZipFile, plan: list[tuple[zipfile.ZipInfo, Path]], max_bytes: int, made: _Created
) -> list[Path]:
    written = 0
    out: list[Path] = []
    for info, target in plan:
        if info.is_dir():
            made.mkdir(target)
            continue
        made.mkdir(target.parent)
        made.files.append(target)
        with zf.open(info) as src, open(target, "wb") as dst:
            while block := src.read(1 << 16):
                written += len(block)
                if written > max_bytes:  # the header's sizes may lie: count what inflates
                    raise ArtifactError(
                        f"artifact zip exceeds max_extract_bytes ({max_bytes} bytes)",
                        code="size_cap",
                    )
                dst.write(block)
        out.append(target)
    return out


def harvest(
    artifacts_dir: Path, task_id: str, timeout: float, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Path]:
    path = wait_for_zip(artifacts_dir, task_id, timeout)
    return extract_zip(path, artifacts_dir / task_id, max_bytes=max_bytes)


async def aharvest(
    artifacts_dir: Path, task_id: str, timeout: float, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Path]:
    path = await await_zip(artifacts_dir, task_id, timeout)
    return await asyncio.to_thread(extract_zip, path, artifacts_dir / task_id, max_bytes=max_bytes)


DEFAULT_MAX_EXTRACT_BYTES = 1024**3  # the SDK's cap for ArtifactManager
_DEFAULT_DIR = "agentfm_artifacts"  # where the gateway binary writes, relative to its cwd
log = logging.getLogger("agentfm_nb.client.artifacts")


class ArtifactManager:
    """Find the gateway's artifact zips in ``watch_dir`` and extract them into ``extract_dir``.

    The SDK's object, same methods and defaults: ``collect_for_task(task_id)`` waits for
    ``<task_id>.zip``, extracts it and deletes the zip; ``collect_since(t)`` does the same for
    the newest zip written after ``t`` (unsafe when tasks run in parallel). Extraction refuses
    zip-slip, links and archives over ``max_extract_bytes`` with ``ArtifactError``.
    """

    def __init__(
        self,
        watch_dir: str | Path = _DEFAULT_DIR,
        extract_dir: str | Path = _DEFAULT_DIR,
        max_extract_bytes: int = DEFAULT_MAX_EXTRACT_BYTES,
    ) -> None:
        self.watch_dir = Path(watch_dir).expanduser().resolve()
        self.extract_dir = Path(extract_dir).expanduser().resolve()
        self.max_extract_bytes = max_extract_bytes

    def __repr__(self) -> str:
        return f"ArtifactManager(watch_dir={str(self.watch_dir)!r})"

    def latest_zip(self) -> Path | None:
        """The most recently modified ``*.zip`` in ``watch_dir``, if any."""
        if not self.watch_dir.is_dir():
            return None
        newest: tuple[float, Path] | None = None
        for p in self.watch_dir.glob("*.zip"):
            with contextlib.suppress(OSError):  # it may vanish between glob and stat
                st = p.stat()
                if stat.S_ISREG(st.st_mode) and (newest is None or st.st_mtime > newest[0]):
                    newest = (st.st_mtime, p)
        return newest[1] if newest else None

    def wait_for_new_zip(
        self,
        since: float,
        timeout: float = 120.0,
        stable_for: float = 1.0,
        poll_interval: float = 0.5,
    ) -> Path | None:
        """The newest zip modified after ``since`` (a Unix time) once its size stops changing."""

        def find() -> Path | None:
            p = self.latest_zip()
            with contextlib.suppress(OSError):
                if p is not None and p.stat().st_mtime > since:
                    return p
            return None

        return _wait_stable(find, timeout, stable_for, poll_interval)

    def wait_for_task_zip(
        self,
        task_id: str,
        timeout: float = 120.0,
        stable_for: float = 1.0,
        poll_interval: float = 0.5,
    ) -> Path | None:
        """``<task_id>.zip`` in ``watch_dir`` once its size stops changing; ``None`` on timeout."""
        target = self.watch_dir / f"{task_id}.zip"
        return _wait_stable(
            lambda: target if target.is_file() else None, timeout, stable_for, poll_interval
        )

    def extract(self, zip_path: Path) -> list[Path]:
        """Extract into ``extract_dir``; returns the files written."""
        zip_path = Path(zip_path)
        if not zip_path.exists():
            raise ArtifactError(f"zip not found: {zip_path}", code="missing")
        return extract_zip(zip_path, self.extract_dir, max_bytes=self.max_extract_bytes)

    def cleanup(self, zip_path: Path) -> None:
        """Delete a zip once extracted (a failure is logged, not raised)."""
        try:
            Path(zip_path).unlink(missing_ok=True)
        except OSError:
            log.warning("could not delete %s", zip_path, exc_info=True)

    def collect_since(self, since: float, timeout: float = 120.0) -> list[Path]:
        """Wait for a zip newer than ``since``, extract it, delete it; ``[]`` on timeout."""
        if not self.watch_dir.is_dir():
            return []
        found = self.wait_for_new_zip(since, timeout=timeout)
        return self._take(found) if found is not None else []

    def collect_for_task(self, task_id: str, timeout: float = 120.0) -> list[Path]:
        """Wait for ``<task_id>.zip``, extract it, delete it; ``[]`` on timeout.

        Safe under parallel tasks: each call looks for its own file name.
        """
        if not task_id or not self.watch_dir.is_dir():
            return []
        found = self.wait_for_task_zip(task_id, timeout=timeout)
        return self._take(found) if found is not None else []

    def _take(self, zip_path: Path) -> list[Path]:
        files = self.extract(zip_path)
        self.cleanup(zip_path)
        return files


def _wait_stable(
    find: Callable[[], Path | None], timeout: float, stable_for: float, poll_interval: float
) -> Path | None:
    """Poll ``find`` until it names a non-empty file whose size holds for ``stable_for`` s.

    The gateway may still be writing the zip when it first appears.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = find()
        if path is not None:
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                time.sleep(stable_for)
                if size > 0 and path.stat().st_size == size:
                    return path
        time.sleep(poll_interval)
    return None


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_EXTRACT_BYTES",
    "ArtifactManager",
    "aharvest",
    "extract_zip",
    "harvest",
    "wait_for_zip",
    "zip_path",
]
