"""``agentfm-nb ping | workers | models | chat`` as a user runs them (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from agentfm_nb import AgentFMClient


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFM_")}
    full.update(env or {})
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from agentfm_nb.cli import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
    )


def test_cli_commands(gateway: Any) -> None:
    r = _cli("ping", "--gateway", gateway.url)
    assert r.returncode == 0 and r.stdout.startswith("ok ") and "4 workers" in r.stdout
    r = _cli("workers", "--model", "llama3.2", "--available", "--gateway", gateway.url)
    assert r.returncode == 0
    assert "Poet" in r.stdout and "Analyst" in r.stdout and "Echo" not in r.stdout
    r = _cli("models", env={"AGENTFM_GATEWAY_URL": gateway.url})
    assert r.returncode == 0 and "Scribe" in r.stdout
    with AgentFMClient(gateway.url, api_key=None) as c:
        echo = c.workers.list(agent_name="Echo")[0].peer_id
    r = _cli("chat", "--gateway", gateway.url, "--peer", echo, "--prompt", "hi there")
    assert (r.returncode, r.stdout) == (0, "hi there\n\n")  # the gateway's blank line kept
    r = _cli("chat", "--gateway", gateway.url, "--peer", echo, "--prompt", "s", "--stream")
    assert (r.returncode, r.stdout) == (0, "s\n\n")


def test_cli_errors_one_line(start_gateway: Any, api_key: str) -> None:
    gw = start_gateway(api_keys=[api_key])
    wrong = "a-wrong-key-for-the-cli-0123456"
    r = _cli("workers", "--gateway", gw.url, env={"AGENTFM_API_KEY": wrong})
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("agentfm-nb: error:")
    assert wrong not in r.stderr
    r = _cli("ping", "--gateway", gw.url, env={"AGENTFM_API_KEY": api_key})
    assert r.returncode == 0 and api_key not in r.stdout + r.stderr
    r = _cli("ping", "--gateway", "http://127.0.0.1:9")
    assert r.returncode == 1 and "could not reach" in r.stderr and r.stderr.count("\n") == 1
