"""Per-task output folders: made, zipped into ``<artifacts_dir>/<task_id>.zip`` (safely and
atomically), and removed."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

_COPY_CHUNK = 1024 * 1024


class ArtifactRefused(Exception):
    """The output folder holds a link or special file, or is over the size cap."""


def _scan(root: Path, max_bytes: int) -> list[tuple[str, Path, int]]:
    """Every regular file under ``root`` as (archive name, path, size); links never followed."""
    found: list[tuple[str, Path, int]] = []
    total = 0
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                name = prefix + entry.name
                if stat.S_ISLNK(st.st_mode):
                    raise ArtifactRefused(f"output holds a symbolic link: {name}")
                if stat.S_ISDIR(st.st_mode):
                    stack.append((Path(entry.path), name + "/"))
                elif stat.S_ISREG(st.st_mode):
                    total += st.st_size
                    if total > max_bytes:
                        raise ArtifactRefused(
                            f"output is over the artifact size cap of {max_bytes} bytes"
                        )
                    found.append((name, Path(entry.path), st.st_size))
                else:
                    raise ArtifactRefused(f"output holds a special file: {name}")
    found.sort()
    return found


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    t = time.localtime(mtime)
    if t.tm_year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def has_files(root: Path) -> bool:
    try:
        with os.scandir(root) as entries:
            return any(True for _ in entries)
    except FileNotFoundError:
        return False


def build_artifact(root: Path, dest: Path, *, max_bytes: int) -> bool:
    """Zip ``root`` to ``dest``; False when there is nothing to zip. Blocking: run in a thread.

    The zip is written under a temporary name next to ``dest`` and renamed into place, so a
    client polling for ``dest`` never sees a partial file.
    """
    if not has_files(root):
        return False
    files = _scan(root, max_bytes)
    if not files:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{id(files):x}.part")
    written = 0
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for name, path, _ in files:
                # O_NOFOLLOW + fstat: a file swapped for a link after the scan is still refused
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "rb") as src:
                    st = os.fstat(src.fileno())
                    if not stat.S_ISREG(st.st_mode):
                        raise ArtifactRefused(f"output holds a special file: {name}")
                    info = zipfile.ZipInfo(name, _zip_time(st.st_mtime))
                    info.external_attr = (st.st_mode & 0xFFFF) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    with zf.open(info, "w") as out:
                        while chunk := src.read(_COPY_CHUNK):
                            written += len(chunk)
                            if written > max_bytes:
                                raise ArtifactRefused(
                                    f"output is over the artifact size cap of {max_bytes} bytes"
                                )
                            out.write(chunk)
        os.replace(tmp, dest)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link swapped in after the scan
            raise ArtifactRefused("output holds a symbolic link") from None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return True


class OutputFolders:
    """The mesh's private folder of per-task output folders (``AGENTFM_OUTPUT_DIR``)."""

    def __init__(self, parent: Path | None = None) -> None:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="agentfm-mesh-", dir=parent))
        self._seq = itertools.count()

    def new(self, task_id: str) -> Path:
        """An empty folder: one mkdir on the loop; the counter keeps reused task ids apart."""
        path = self.root / f"{task_id}-{next(self._seq)}"
        os.mkdir(path, 0o700)
        return path

    async def discard(self, path: Path) -> None:
        try:
            os.rmdir(path)  # empty (the common case): one call, no thread
            return
        except OSError:
            pass
        # rmtree never follows links; a big folder is removed off the loop
        try:
            await asyncio.to_thread(shutil.rmtree, path, True)
        except asyncio.CancelledError:
            shutil.rmtree(path, ignore_errors=True)  # cancelled twice: finish the job inline
            raise

    async def remove_all(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.root, True)


__all__ = ["ArtifactRefused", "OutputFolders", "build_artifact", "has_files"]
