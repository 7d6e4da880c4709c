"""The README's first command leaves a clone clean: the package build installs the front-end
with ``npm ci`` (the committed lockfile, complete for every platform) and never rewrites it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow]


def _run(*cmd: str, cwd: Path) -> str:
    # tests stay on loopback: npm installs from its local cache (filled by tests/run.sh's npm ci)
    env = {**os.environ, "npm_config_offline": "true"}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def test_build_hook_uses_npm_ci_and_leaves_git_clean(tmp_path: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node and npm are needed to build the front-end")
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    hook = config["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    for kwargs in ("build-kwargs", "editable-build-kwargs"):
        assert hook[kwargs]["npm"] == ["node", "js/npm_ci.mjs"], hook[kwargs]
    clone = tmp_path / "clone"
    _run("git", "clone", "-q", str(REPO), str(clone), cwd=tmp_path)
    # exactly what hatch-jupyter-builder runs: `<npm> install`, then `<npm> run build`
    _run("node", "js/npm_ci.mjs", "install", cwd=clone)
    _run("node", "js/npm_ci.mjs", "run", "build", cwd=clone)
    assert (clone / "agentfm_nb" / "static" / "chat.js").is_file()
    assert _run("git", "status", "--porcelain", cwd=clone) == ""
    # a second install (an editable reinstall) keeps node_modules and the lockfile as they are
    _run("node", "js/npm_ci.mjs", "install", cwd=clone)
    assert _run("git", "status", "--porcelain", cwd=clone) == ""
