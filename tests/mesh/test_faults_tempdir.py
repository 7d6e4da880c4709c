"""What a killed gateway or kernel leaves in the system temp dir: only entries in the one
scratch folder ``<tmp>/agentfm_nb-<uid>``, named for their owner and swept by the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agentfm_nb.gateway import LocalMeshGateway
from tests._procs import wait_gone

KERNEL = """
import sys, time
from agentfm_nb.gateway import LocalMeshGateway
gw = LocalMeshGateway(port=0, backend="embedded", config=sys.argv[1],
                      artifacts_dir=sys.argv[2], env={"AGENTFM_API_KEYS": None})
gw.start()
print(gw.pid, flush=True)
time.sleep(600)
"""


def _entries(system_tmp: Path) -> list[str]:
    """Everything in the temp dir, the scratch folder's entries as ``scratch/<name>``."""
    out = []
    for entry in sorted(system_tmp.iterdir()):
        if entry.name == f"agentfm_nb-{os.getuid()}":
            out += [f"scratch/{child.name}" for child in sorted(entry.iterdir())]
        else:
            out.append(entry.name)
    return out


@pytest.fixture
def system_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private system temp dir for this test and the gateways it starts."""
    path = tmp_path / "systmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def _mesh(tmp_path: Path, toml_worker: Callable[..., str]) -> Path:
    config = tmp_path / "mesh.toml"
    config.write_text(toml_worker("Shell", kind="command", argv=["bash", "-c", "echo hi"]))
    return config


def test_killed_gateway_leaves_only_its_scratch_folder_swept_by_the_next(
    start_gateway: Callable[..., LocalMeshGateway],
    toml_worker: Callable[..., str],
    system_tmp: Path,
) -> None:
    toml = toml_worker("Shell", kind="command", argv=["bash", "-c", "echo hi"])
    env = {"TMPDIR": str(system_tmp)}
    first = start_gateway(toml, env=env)
    with httpx.Client(base_url=first.url, timeout=30) as http:
        peer = http.get("/api/workers").json()["agents"][0]["peer_id"]
        assert http.post("/api/execute", json={"worker_id": peer, "prompt": "x"}).text.startswith(
            "hi\n"
        )
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    assert wait_gone(first.pid, timeout=20.0)
    assert [e.split("-")[:2] for e in _entries(system_tmp)] == [["scratch/mesh", str(first.pid)]]
    second = start_gateway(toml, env=env)
    assert second.pid is not None
    # the dead gateway's folder went with the next start; only the live one's is there
    assert [e.split("-")[:2] for e in _entries(system_tmp)] == [["scratch/mesh", str(second.pid)]]
    second.stop()
    assert _entries(system_tmp) == []


def test_killed_kernel_leaves_only_its_log_swept_by_the_next_launch(
    tmp_path: Path,
    toml_worker: Callable[..., str],
    system_tmp: Path,
    start_gateway: Callable[..., LocalMeshGateway],
) -> None:
    script = tmp_path / "kernel.py"
    script.write_text(textwrap.dedent(KERNEL))
    config = _mesh(tmp_path, toml_worker)
    kernel = subprocess.Popen(
        [sys.executable, str(script), str(config), str(tmp_path / "artifacts")],
        stdout=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(system_tmp)},
    )
    try:
        assert kernel.stdout is not None
        gateway_pid = int(kernel.stdout.readline())
        os.kill(kernel.pid, signal.SIGKILL)
        kernel.wait()
        # the launcher's watchdog stops the gateway, which removes its own folder
        assert wait_gone(gateway_pid, timeout=20.0)
        assert [e.split("-")[:2] for e in _entries(system_tmp)] == [
            ["scratch/gateway", str(kernel.pid)]
        ]
        # the next launch (here from this process) sweeps the dead kernel's log
        gw = start_gateway(config.read_text(), log_file=None, env={"TMPDIR": str(system_tmp)})
        kinds = sorted(e.split("-")[0] for e in _entries(system_tmp))
        assert kinds == ["scratch/gateway", "scratch/mesh"]
        assert not any(f"-{kernel.pid}-" in e for e in _entries(system_tmp))
        gw.stop()
    finally:
        if kernel.poll() is None:
            kernel.kill()
            kernel.wait()
