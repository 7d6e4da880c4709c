"""Where the built front-end files live (``agentfm_nb/static``, produced by ``npm run build``)."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
EXPORT_DIR = STATIC_DIR / "export"

_HINT = (
    "the front-end bundle is missing: run `npm ci && npm run build` in the repository, or reinstall"
)


class BundleMissingError(FileNotFoundError):
    """A widget's JavaScript bundle was not built."""


def esm(name: str) -> Path:
    """The ESM bundle of widget ``name`` (for example ``"worker_table"``)."""
    return STATIC_DIR / f"{name}.js"


def css(name: str) -> Path | None:
    """The stylesheet of widget ``name`` if the build emitted one (styles are inlined today)."""
    path = STATIC_DIR / f"{name}.css"
    return path if path.is_file() else None


def export_file(name: str) -> Path:
    """One of ``require.js``, ``embed-amd.js``, ``anywidget.js`` for offline exported HTML."""
    return EXPORT_DIR / name


def read_esm(name: str) -> str:
    """The bundle's text, or a clear error naming the fix."""
    path = esm(name)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleMissingError(f"{path}: {_HINT}") from None


__all__ = [
    "EXPORT_DIR",
    "STATIC_DIR",
    "BundleMissingError",
    "css",
    "esm",
    "export_file",
    "read_esm",
]
