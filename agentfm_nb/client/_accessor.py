"""Register the ``df.agentfm`` accessor without importing pandas ourselves.

``%load_ext agentfm_nb`` and client construction call ``ensure_accessor()``. When pandas is
already imported the accessor is registered at once; otherwise a one-shot import hook registers
it right after pandas finishes importing, so ``import agentfm_nb`` (and the extension) stay
cheap for users who never touch a DataFrame.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

_lock = threading.Lock()
_done = False


def ensure_accessor() -> None:
    """Make ``df.agentfm`` available now (pandas loaded) or as soon as pandas is imported."""
    if _done:
        return
    if "pandas" in sys.modules:
        _register()
        return
    with _lock:
        if not any(isinstance(f, _PandasHook) for f in sys.meta_path):
            sys.meta_path.insert(0, _PandasHook())


def _register() -> None:
    global _done
    pandas = sys.modules.get("pandas")
    # A pandas still importing (we were called from inside its import) is not usable yet.
    if pandas is None or not hasattr(pandas, "api"):
        return
    with contextlib.suppress(Exception):  # never break the user's pandas import
        import agentfm_nb.scatter.accessor  # noqa: F401  (registers on import)

        _done = True


class _PandasHook(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps pandas's own loader to register the accessor afterwards."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pandas":
            return None
        with _lock, contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # one shot; also keeps find_spec below from recursing
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        real_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            real_exec(module)
            _register()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


__all__ = ["ensure_accessor"]
