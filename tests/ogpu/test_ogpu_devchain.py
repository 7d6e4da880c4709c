"""``agentfm-nb devchain``: where anvil comes from, the one-line error naming the install
command, and the contracts shipped in the package matching their Solidity sources."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentfm_nb.cli import main
from agentfm_nb.ogpu.anvil import AnvilNotFoundError, find_anvil
from agentfm_nb.ogpu.devchain import CONTRACTS_FILE, load_contracts, sources_digest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Done]:
    """``agentfm-nb`` in this process, with the environment it would get."""

    def run(*args: str, env: dict[str, str]) -> Done:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        code = main(list(args))
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run


def _bare_env(tmp_path: Path) -> dict[str, str]:
    """No anvil anywhere: not on PATH, not in the cache, no checkout to fall back on."""
    return {
        "PATH": "/nonexistent",
        "AGENTFM_NB_CACHE_DIR": str(tmp_path / "cache"),
        "AGENTFM_NB_CHAIN_DIR": str(tmp_path / "no-checkout"),
        "AGENTFM_NB_ANVIL": "",
    }


def test_missing_anvil_is_one_line_naming_the_install_command(
    tmp_path: Path, cli: Callable[..., Done]
) -> None:
    done = cli("devchain", "where", env=_bare_env(tmp_path))
    assert done.returncode == 1 and done.stdout == ""
    line = done.stderr.strip()
    assert line.count("\n") == 0 and "Traceback" not in line
    assert "anvil not found: run `agentfm-nb devchain install`" in line
    assert str(tmp_path / "cache" / "anvil") in line


def test_missing_anvil_error_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _bare_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(AnvilNotFoundError) as info:
        find_anvil()
    assert isinstance(info.value, FileNotFoundError)  # callers that skip on it keep working


def test_install_without_npm_says_what_is_missing(tmp_path: Path, cli: Callable[..., Done]) -> None:
    done = cli("devchain", "install", env=_bare_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().startswith("agentfm-nb: error: npm not found: install Node.js")


def test_where_prefers_path_then_the_cache(tmp_path: Path, cli: Callable[..., Done]) -> None:
    try:
        real = find_anvil()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    env = _bare_env(tmp_path)
    cached = tmp_path / "cache" / "anvil" / "node_modules" / "@foundry-rs"
    platform_dir = real.parent.parent.name  # anvil-<os>-<arch> when it came from npm
    if not platform_dir.startswith("anvil-"):
        pytest.skip("anvil is not the npm build here")
    (cached / platform_dir / "bin").mkdir(parents=True)
    (cached / platform_dir / "bin" / "anvil").symlink_to(real)
    done = cli("devchain", "where", env=env)
    assert done.returncode == 0 and done.stdout.strip().startswith(str(tmp_path / "cache"))
    done = cli("devchain", "where", env={**env, "PATH": str(real.parent)})
    assert done.stdout.strip() == str(real.parent / "anvil")


def test_shipped_contracts_match_their_sources() -> None:
    shipped = json.loads(CONTRACTS_FILE.read_text())
    assert shipped["sources_digest"] == sources_digest(ROOT / "tests" / "chain"), (
        "tests/chain/contracts changed: rebuild with "
        "agentfm_nb.ogpu.devchain.compile_contracts(out=CONTRACTS_FILE)"
    )
    contracts = load_contracts()
    assert set(contracts) == {"Nexus", "Source", "Task", "Terminal"}
    nexus_errors = [e for e in contracts["Nexus"]["abi"] if e["type"] == "error"]
    assert nexus_errors == []  # like the published Nexus: string reverts only
    assert CONTRACTS_FILE.stat().st_size < 64_000
