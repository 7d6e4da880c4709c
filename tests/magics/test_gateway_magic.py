"""``%agentfm gateway start|stop|status``: a session gateway, reused, stopped, connected."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from agentfm_nb.client import get_default_client
from agentfm_nb.magics._session import session_gateway
from tests.magics.conftest import Shell


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AGENTFM_API_KEY", "AGENTFM_API_KEYS", "AGENTFM_GATEWAY_URL"):
        monkeypatch.delenv(var, raising=False)


def test_start_reuse_status_stop(
    ip: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the gateway's ./agentfm_artifacts lands here
    assert "No session gateway is running" in ip.run("%agentfm gateway status").out

    ran = ip.run("%agentfm gateway start --backend embedded")
    assert ran.ok, ran.err
    gw = session_gateway()
    assert gw is not None and gw.running and gw.backend == "embedded"
    assert f"Started the embedded gateway at {gw.url}" in ran.out
    assert get_default_client().gateway_url.rstrip("/") == gw.url
    assert len(get_default_client().workers.list()) == 4
    # The client collects files where this gateway writes them; a chat turn shows them.
    assert get_default_client().artifacts_dir == gw.artifacts_dir == tmp_path / "agentfm_artifacts"
    ran = ip.run("%%agentfm chat --model Scribe --wait -o reply\nwrite it down")
    assert ran.ok, ran.err
    reply = ip.ns["reply"]
    assert len(reply.artifacts) == 1 and reply.task_id
    assert (gw.artifacts_dir / reply.task_id / "report.md").is_file()
    pid, url = gw.pid, gw.url

    ran = ip.run("%agentfm gateway start --backend embedded")
    assert ran.ok and "Reusing the running embedded gateway" in ran.out
    assert session_gateway() is gw and gw.pid == pid

    ran = ip.run("%agentfm gateway status")
    assert ran.ok and f"Running: embedded gateway at {gw.url} (pid {pid}" in ran.out

    ran = ip.run("%agentfm gateway stop")
    assert ran.ok and f"Stopped the gateway at {url}." in ran.out
    assert session_gateway() is None and not gw.running
    assert pid is not None and not psutil.pid_exists(pid)
    assert "No session gateway is running" in ip.run("%agentfm gateway stop").out


def test_start_with_a_key_from_the_environment(
    ip: Shell, api_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    import httpx

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SESSION_GATEWAY_KEY", api_key)
    ran = ip.run("%agentfm gateway start --backend embedded --api-key-env SESSION_GATEWAY_KEY")
    assert ran.ok, ran.err
    gw = session_gateway()
    assert gw is not None
    assert httpx.get(f"{gw.url}/api/workers").status_code == 401
    assert ip.run("%agentfm workers -o w").ok  # the default client carries the key
    assert api_key not in ran.out + ran.err


def test_start_errors_are_one_line(ip: Shell) -> None:
    assert (
        "config file not found"
        in ip.run("%agentfm gateway start --config /nonexistent/mesh.toml").one_line_error()
    )
    assert "port out of range" in ip.run("%agentfm gateway start --port 70000").one_line_error()
