"""Shared fixtures: a session demo gateway, a gateway factory, an API key and agent-script helpers.

Every gateway here is a real ``python -m agentfm_nb.mesh`` process on a free loopback port,
started through ``LocalMeshGateway`` and stopped at teardown (no process outlives the tests).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentfm_nb.gateway import LocalMeshGateway

# A shell that starts the suite in the background without job control sets SIGINT to "ignore",
# which Python then keeps: Ctrl-C tests would see no KeyboardInterrupt and kernels no interrupt.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

TEST_API_KEY = "agentfm-nb-test-key-0123456789ab"  # 32 characters
assert len(TEST_API_KEY) == 32

# A developer's own keys must not leak into (or lock out) the test gateways.
_CLEAN_ENV: dict[str, str | None] = {
    "AGENTFM_API_KEYS": None,
    "AGENTFM_ALLOW_UNAUTH_PUBLIC": None,
    "AGENTFM_WEBHOOK_SECRET": None,
    "AGENTFM_WEBHOOK_ALLOW_PRIVATE": None,
}


@pytest.fixture(scope="session")
def api_key() -> str:
    """A valid 32-character bearer key (use with ``start_gateway(api_keys=[api_key])``)."""
    return TEST_API_KEY


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMeshGateway]:
    """One demo-mesh gateway shared by the whole session (no auth). Do not stop it or
    change its workers; use ``start_gateway`` for anything stateful."""
    root = tmp_path_factory.mktemp("session-gateway")
    gw = LocalMeshGateway(
        port=0,
        backend="embedded",
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env=_CLEAN_ENV,
    )
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


StartGateway = Callable[..., LocalMeshGateway]


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[StartGateway]:
    """Factory: ``start_gateway(config_toml=None, *, api_keys=None, env=None, **launcher_kwargs)``.

    Writes the TOML (``None`` = demo mesh) to a tmp file, starts an embedded gateway on a free
    port with its artifacts under tmp, and returns it started. All are stopped at teardown.
    """
    started: list[LocalMeshGateway] = []

    def start(
        config_toml: str | None = None,
        *,
        api_keys: list[str] | None = None,
        env: Mapping[str, str | None] | None = None,
        **kwargs: Any,
    ) -> LocalMeshGateway:
        n = len(started)
        config: Path | None = None
        if config_toml is not None:
            config = tmp_path / f"mesh-{n}.toml"
            config.write_text(textwrap.dedent(config_toml))
        full_env: dict[str, str | None] = dict(_CLEAN_ENV)
        if api_keys:
            full_env["AGENTFM_API_KEYS"] = ",".join(api_keys)
        full_env.update(env or {})
        kwargs.setdefault("artifacts_dir", tmp_path / f"artifacts-{n}")
        kwargs.setdefault("log_file", tmp_path / f"gateway-{n}.log")
        gw = LocalMeshGateway(port=0, backend="embedded", config=config, env=full_env, **kwargs)
        started.append(gw)
        gw.start()
        return gw

    try:
        yield start
    finally:
        for gw in reversed(started):
            gw.stop()


def toml_value(value: Any) -> str:
    """A Python str/number/bool/list/dict as a TOML literal (JSON strings are TOML strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def worker_toml(name: str, **fields: Any) -> str:
    """One ``[[workers]]`` table; ``engine``/``author`` default to ``test``/``tests``."""
    fields.setdefault("engine", "test")
    fields.setdefault("author", "tests")
    lines = ["[[workers]]", f"name = {toml_value(name)}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class AgentScript:
    """A Python agent written to a tmp file; ``.argv`` runs it unbuffered."""

    path: Path

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-u", str(self.path)]

    def worker(self, name: str, **fields: Any) -> str:
        """A ``kind = "command"`` worker table running this script."""
        return worker_toml(name, kind="command", argv=self.argv, **fields)


@pytest.fixture
def write_agent(tmp_path: Path) -> Callable[..., AgentScript]:
    """``write_agent(source, name="agent.py") -> AgentScript`` (source is dedented)."""
    agents = tmp_path / "agents"

    def write(source: str, name: str = "agent.py") -> AgentScript:
        agents.mkdir(exist_ok=True)
        path = agents / name
        path.write_text(textwrap.dedent(source).lstrip())
        return AgentScript(path)

    return write


@pytest.fixture(scope="session")
def toml_worker() -> Callable[..., str]:
    """``toml_worker(name, **fields) -> str``: one ``[[workers]]`` TOML table."""
    return worker_toml


STAND_IN_AGENTFM = Path(__file__).parent / "gateway" / "stand_in_agentfm.py"


@pytest.fixture
def agentfm_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A stand-in ``agentfm`` binary first on PATH (``tests/gateway/stand_in_agentfm.py``).

    Returns ``(bin_dir, record)``: its folder and the JSON-lines file it records its argv in.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "agentfm"
    exe.write_text(f"#!{sys.executable}\n" + STAND_IN_AGENTFM.read_text())
    exe.chmod(0o755)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("STANDIN_RECORD", str(record))
    monkeypatch.setenv("STANDIN_MODE", "serve")
    monkeypatch.delenv("AGENTFM_API_KEYS", raising=False)
    return bin_dir, record
