"""Artifact cards' payload: the files a task wrote, as small JSON a widget can save.

The front end is ``js/shared/artifact_cards.ts``. Every card carries what reading needs in a
saved notebook (name, size, mime, a short text preview or an inline image); files small enough
also carry a ``data:`` URL so Open and Download work with no kernel. Larger files are fetched on
demand through the widget's ``artifact`` message (``read_artifact``), so saved notebooks stay
small. Paths never reach the browser: cards are keyed by their name relative to the task folder.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypedDict

# Inline budgets: a saved notebook must not balloon because an agent wrote a big file.
PREVIEW_CHARS = 1_200
INLINE_IMAGE_BYTES = 192 * 1024
INLINE_FILE_BYTES = 64 * 1024
INLINE_TOTAL_BYTES = 512 * 1024
MAX_CARDS = 50
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024

_TEXT_MIMES = {
    "application/json",
    "application/xml",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/javascript",
    "application/x-sh",
    "application/sql",
    "image/svg+xml",
}
_TEXT_SUFFIXES = {
    ".md", ".txt", ".csv", ".tsv", ".json", ".yaml", ".yml", ".toml", ".log", ".py", ".sh",
    ".js", ".ts", ".html", ".xml", ".sql", ".ini", ".cfg", ".rst",
}  # fmt: skip
# SVG can carry script: it is shown as text, never inlined as an image.
_IMAGE_MIMES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


class ArtifactCard(TypedDict, total=False):
    """One card as the front end reads it."""

    key: str  # name relative to the task folder; what the ``artifact`` message asks for
    name: str  # file name
    size: int
    mime: str
    kind: str  # "image" | "text" | "file"
    preview: str  # text head, for kind == "text"
    truncated: bool
    url: str  # data: URL when the file is small enough to save inline


def guess_mime(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0]
    if mime is None and path.suffix.lower() in _TEXT_SUFFIXES:
        mime = "text/plain"
    return mime or "application/octet-stream"


def _is_text(path: Path, mime: str) -> bool:
    return mime.startswith("text/") or mime in _TEXT_MIMES or path.suffix.lower() in _TEXT_SUFFIXES


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def artifact_card(path: Path, *, key: str | None = None, inline_budget: int = 0) -> ArtifactCard:
    """The card of one file; ``inline_budget`` bytes may be spent on a ``data:`` URL."""
    size = path.stat().st_size
    mime = guess_mime(path)
    card: ArtifactCard = {"key": key or path.name, "name": path.name, "size": size, "mime": mime}
    if mime in _IMAGE_MIMES:
        card["kind"] = "image"
        if size <= min(INLINE_IMAGE_BYTES, inline_budget):
            card["url"] = _data_url(mime, path.read_bytes())
        return card
    if _is_text(path, mime):
        card["kind"] = "text"
        with path.open("rb") as fh:
            head = fh.read(PREVIEW_CHARS * 4)
        text = head.decode("utf-8", errors="replace")
        card["preview"] = text[:PREVIEW_CHARS]
        card["truncated"] = size > len(head) or len(text) > PREVIEW_CHARS
        # Text shown as text, whatever it claims to be (an .html artifact must not run).
        if size <= min(INLINE_FILE_BYTES, inline_budget):
            card["url"] = _data_url("text/plain;charset=utf-8", path.read_bytes())
        return card
    card["kind"] = "file"
    if size <= min(INLINE_FILE_BYTES, inline_budget):
        card["url"] = _data_url("application/octet-stream", path.read_bytes())
    return card


def _key(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def artifact_cards(
    paths: Iterable[Path | str],
    *,
    root: Path | str | None = None,
    inline_total: int = INLINE_TOTAL_BYTES,
) -> list[ArtifactCard]:
    """Cards for extracted files (regular files only, at most ``MAX_CARDS``), in order.

    ``root`` (the task's extraction folder) names cards by their relative path so two files
    called ``out.txt`` in different sub-folders stay apart. Unreadable files are skipped.
    """
    base = Path(root) if root is not None else None
    cards: list[ArtifactCard] = []
    budget = inline_total
    for raw in paths:
        if len(cards) >= MAX_CARDS:
            break
        path = Path(raw)
        try:
            if path.is_symlink() or not path.is_file():
                continue
            card = artifact_card(path, key=_key(path, base), inline_budget=budget)
        except OSError:
            continue
        if "url" in card:
            budget -= int(card["size"])
        cards.append(card)
    return cards


def task_files(folder: Path | str) -> list[Path]:
    """The regular files under a task's extraction folder, sorted by relative path."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(
        (p for p in root.rglob("*") if p.is_file() and not p.is_symlink()),
        key=lambda p: p.relative_to(root).as_posix(),
    )


def read_artifact(
    paths: Sequence[Path | str], key: str, *, root: Path | str | None = None
) -> tuple[dict[str, Any], bytes] | None:
    """The message and bytes answering an ``artifact`` request for ``key``, or ``None``.

    Only a file in ``paths`` can be read, so a crafted key cannot reach anything else.
    """
    base = Path(root) if root is not None else None
    for raw in paths:
        path = Path(raw)
        if _key(path, base) != key:
            continue
        try:
            if path.is_symlink() or not path.is_file():
                return None
            if path.stat().st_size > MAX_DOWNLOAD_BYTES:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        mime = guess_mime(path)
        if _is_text(path, mime) and mime not in _IMAGE_MIMES:
            mime = "text/plain;charset=utf-8"
        elif mime not in _IMAGE_MIMES:
            mime = "application/octet-stream"
        return {"kind": "artifact_file", "key": key, "name": path.name, "mime": mime}, data
    return None


__all__ = [
    "ArtifactCard",
    "artifact_card",
    "artifact_cards",
    "guess_mime",
    "read_artifact",
    "task_files",
]
