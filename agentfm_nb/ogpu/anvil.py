"""Finding anvil, and installing it on demand (npm ``@foundry-rs/anvil``) into a per-user cache.

Looked up in order: ``$AGENTFM_NB_ANVIL``, ``anvil`` on PATH, the per-user cache that
``agentfm-nb devchain install`` fills, and a checkout's ``tests/chain/node_modules``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from agentfm_nb.ogpu.errors import ConfigError

ANVIL_PACKAGE = "@foundry-rs/anvil"
ANVIL_VERSION = "1.7.1"
INSTALL_COMMAND = "agentfm-nb devchain install"


class DevchainError(ConfigError):
    """The local development chain cannot be set up."""


class AnvilNotFoundError(DevchainError, FileNotFoundError):
    """No anvil binary; the message names the one command that installs it."""

    def __init__(self, cache: Path) -> None:
        super().__init__(
            f"anvil not found: run `{INSTALL_COMMAND}` (npm {ANVIL_PACKAGE} into {cache}) "
            "or put Foundry's anvil on PATH",
            code="anvil_missing",
        )
        self.cache = cache


def cache_dir() -> Path:
    """Per-user install location: ``$AGENTFM_NB_CACHE_DIR`` or the XDG cache directory."""
    explicit = os.environ.get("AGENTFM_NB_CACHE_DIR")
    if explicit:
        return Path(explicit) / "anvil"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentfm-nb" / "anvil"


def _platform_package() -> str:
    arch = "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "amd64"
    return f"anvil-{sys.platform}-{arch}"


def _in_node_modules(prefix: Path) -> Path:
    return prefix / "node_modules" / "@foundry-rs" / _platform_package() / "bin" / "anvil"


def _checkout_prefix() -> Path:
    env = os.environ.get("AGENTFM_NB_CHAIN_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "tests" / "chain"


def find_anvil(chain_dir: Path | None = None) -> Path:
    """The anvil binary to run, or ``AnvilNotFoundError``."""
    explicit = os.environ.get("AGENTFM_NB_ANVIL")
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    for prefix in (cache_dir(), chain_dir or _checkout_prefix()):
        candidate = _in_node_modules(prefix)
        if candidate.is_file():
            return candidate
    raise AnvilNotFoundError(cache_dir())


def install_anvil(
    prefix: Path | None = None, *, version: str = ANVIL_VERSION, timeout: float = 600.0
) -> Path:
    """``npm install`` the anvil package into ``prefix`` (default: the per-user cache) and
    return the binary. Needs Node.js' npm; the platform binary arrives as an optional
    dependency of the package."""
    target = prefix or cache_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise DevchainError(
            f"npm not found: install Node.js (for npm) to fetch {ANVIL_PACKAGE}, "
            "or put Foundry's anvil on PATH"
        )
    target.mkdir(parents=True, exist_ok=True)
    # a package.json of its own keeps npm from walking up into an unrelated project
    manifest = target / "package.json"
    if not manifest.exists():
        manifest.write_text('{"name": "agentfm-nb-anvil", "private": true}\n')
    try:
        out = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(target),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"{ANVIL_PACKAGE}@{version}",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise DevchainError(f"npm install {ANVIL_PACKAGE} took longer than {timeout:g} s") from None
    if out.returncode != 0:
        lines = [
            line.removeprefix("npm error").strip()
            for line in out.stderr.splitlines()
            if line.strip() and "complete log" not in line and " code " not in f" {line} "
        ]
        raise DevchainError(
            f"npm install {ANVIL_PACKAGE}@{version} failed: {(lines or ['(no output)'])[0]}"
        )
    binary = _in_node_modules(target)
    if not binary.is_file():
        raise DevchainError(
            f"npm installed {ANVIL_PACKAGE} but no {_platform_package()} binary arrived "
            f"(is {sys.platform}/{platform.machine()} supported?)"
        )
    return binary
