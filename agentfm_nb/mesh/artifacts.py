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


# -- the one place in the system temp dir -------------------------------------------------


def scratch_root() -> Path:
    """``<system temp>/agentfm_nb-<uid>``: the only place in the temp dir agentfm_nb writes to.

    Everything in it is named for the process that owns it (pid and start time) and is swept
    by the next owner once that process is gone, so a ``kill -9`` leaves at most its own
    entries behind until the next gateway or launcher starts. Private to the user (0700).
    """
    root = Path(tempfile.gettempdir()) / f"agentfm_nb-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise OSError(errno.EPERM, "not a private folder of this user (refusing it)", str(root))
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(root, 0o700)
    return root


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (tells a reused pid apart)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return fields[19].decode() if len(fields) > 19 and fields[0] != b"Z" else None


def owner_tag() -> str:
    """``<pid>-<start time>`` of this process, the owner part of scratch names."""
    pid = os.getpid()
    return f"{pid}-{_start_time(pid) or 0}"


def sweep_scratch(root: Path | None = None) -> int:
    """Remove entries whose owning process is gone; returns how many were removed."""
    root = root or scratch_root()
    removed = 0
    with os.scandir(root) as entries:
        for entry in entries:
            parts = entry.name.split("-")
            if len(parts) < 3 or not parts[1].isdigit():
                continue
            if _start_time(int(parts[1])) == parts[2].partition(".")[0]:
                continue  # its owner still runs
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def scratch_path(kind: str, suffix: str = "", *, folder: bool = False) -> Path:
    """A new file or folder ``<kind>-<pid>-<start>-<n><suffix>`` in :func:`scratch_root`, made
    after sweeping what dead owners left."""
    root = scratch_root()
    sweep_scratch(root)
    base = f"{kind}-{owner_tag()}"
    for n in itertools.count():
        path = root / f"{base}-{n}{suffix}"
        try:
            if folder:
                path.mkdir(mode=0o700)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


class OutputFolders:
    """The mesh's private folder of per-task output folders (``AGENTFM_OUTPUT_DIR``).

    Without a ``parent`` it lives in :func:`scratch_root`, swept once this process is gone.
    """

    def __init__(self, parent: Path | None = None) -> None:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
            self.root = Path(tempfile.mkdtemp(prefix="agentfm-mesh-", dir=parent))
        else:
            self.root = scratch_path("mesh", folder=True)
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


__all__ = [
    "ArtifactRefused",
    "OutputFolders",
    "build_artifact",
    "has_files",
    "owner_tag",
    "scratch_path",
    "scratch_root",
    "sweep_scratch",
]
