"""The gateway process: CLI, readiness line, SIGTERM with streams in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentfm_nb.cli import main
from tests.mesh._http_support import GATED_AGENT, pid_alive, wait_until


def test_mesh_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["mesh", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--config", "--artifacts-dir", "--state-dir", "--log-level"):
        assert flag in out
    assert "AGENTFM_API_KEYS" in out


def test_sigterm_ends_streams_kills_agents_exits_zero(
    start_gateway: Any, write_agent: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.mkdir()
    agent = write_agent(GATED_AGENT)
    gw = start_gateway(agent.worker("Gated", max_tasks=2, env={"GATE_DIR": str(gate)}))
    peer = httpx.get(f"{gw.url}/api/workers").json()["agents"][0]["peer_id"]
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", f"{gw.url}/api/execute", json={"worker_id": peer, "prompt": "p"}
        ) as r,
    ):
        lines = r.iter_lines()
        assert next(lines) == "first line"
        (pid_file,) = gate.glob("pid-*")
        agent_pid = int(pid_file.read_text())
        os.kill(gw.pid, signal.SIGTERM)
        rest = list(lines)  # the stream ends cleanly (no protocol error) instead of hanging
    # the agent never finished; the client is told so, with the closing sentinel
    assert rest == ["⚠️  Sandbox exited: signal: killed", "", "[AGENTFM: NO_FILES]"]
    assert gw.wait(timeout=30) == 0
    assert wait_until(lambda: not pid_alive(agent_pid)), "agent outlived the gateway"


def test_process_prints_listening_line_and_serves(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFM_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentfm_nb.mesh", "--port", "0", "--artifacts-dir",
         str(tmp_path / "art")],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("agentfm-nb mesh listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
