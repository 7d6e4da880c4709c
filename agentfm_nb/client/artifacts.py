"""Harvest ``<artifacts_dir>/<task_id>.zip`` and extract it safely.

Refused with ``ArtifactError``: absolute paths, ``..`` escapes (zip-slip), symlinks and other
non-regular entries, and archives whose uncompressed total exceeds ``max_bytes``. Sizes are
counted while copying, not trusted from the zip header.
"""

from __future__ import annotations

import asyncio
import shutil
import stat
import time
import zipfile
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
        raise ArtifactError(f"artifact zip holds an absolute path: {name!r}", code="zip_slip")
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
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    with zf:
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
                    f"artifact zip exceeds the {max_bytes} byte cap", code="size_cap"
                )
            plan.append((info, target))
        written = 0
        out: list[Path] = []
        try:
            for info, target in plan:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    while block := src.read(1 << 16):
                        written += len(block)
                        if written > max_bytes:
                            raise ArtifactError(
                                f"artifact zip exceeds the {max_bytes} byte cap", code="size_cap"
                            )
                        dst.write(block)
                out.append(target)
        except ArtifactError:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise ArtifactError(
                f"artifact zip {path.name} is corrupt: {exc}", code="bad_zip"
            ) from None
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


__all__ = ["DEFAULT_MAX_BYTES", "aharvest", "extract_zip", "harvest", "wait_for_zip", "zip_path"]
