"""LocalMeshGateway against a stand-in ``agentfm`` binary on PATH (argv, probe, faults, orphans)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest

from agentfm_nb import GatewayConnectionError, LocalMeshGateway
from agentfm_nb.gateway import GatewayAlreadyRunningError
from tests._procs import wait_gone


class StandIn:
    def __init__(self, bin_dir: Path, record: Path) -> None:
        self.bin_dir = bin_dir
        self.record = record

    def entries(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def argv(self) -> list[str]:
        return next(e["argv"] for e in self.entries() if "argv" in e)


@pytest.fixture
def stand_in(agentfm_stand_in: tuple[Path, Path]) -> StandIn:
    return StandIn(*agentfm_stand_in)


def test_auto_picks_binary_on_path_and_passes_flags(stand_in: StandIn, tmp_path: Path) -> None:
    key_file = tmp_path / "swarm.key"
    key_file.write_text("/key/swarm/psk/1.0.0/\n/base16/\n" + "ab" * 32)
    boot = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWExample"
    with LocalMeshGateway(port=0, swarm_key=key_file, bootstrap=boot) as gw:
        assert gw.backend == "agentfm"
        assert gw.running and gw.pid is not None
        port = int(gw.url.rsplit(":", 1)[1])
        assert port > 0
        assert stand_in.argv() == [
            "-mode", "api", "-apiport", str(port), "-swarmkey", str(key_file), "-bootstrap", boot,
        ]  # fmt: skip
        assert any(e.get("path") == "/health" for e in stand_in.entries())
        assert "stand-in agentfm starting" in gw.log_tail()
        assert gw.uptime_s > 0
    assert not gw.running and gw.uptime_s == 0.0


def test_readiness_probe_sends_the_key_and_repr_hides_it(stand_in: StandIn, api_key: str) -> None:
    gw = LocalMeshGateway(port=0, api_key=api_key)
    with gw:
        probes = [e for e in stand_in.entries() if e.get("path") == "/health"]
        assert probes and all(p["auth"] == f"Bearer {api_key}" for p in probes)
        # The key also becomes the gateway's accepted key when none is configured.
        assert stand_in.entries()[0]["api_keys"] == api_key
        assert api_key not in repr(gw) and "auth=on" in repr(gw)
    assert api_key not in repr(gw)


def test_explicit_binary_path_wins(stand_in: StandIn, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere" / "agentfm-custom"
    other.parent.mkdir()
    shutil.copy(stand_in.bin_dir / "agentfm", other)
    other.chmod(0o755)
    with LocalMeshGateway(port=0, binary_path=other) as gw:
        assert gw.backend == "agentfm"
        assert psutil.Process(gw.pid).cmdline()[1] == str(other)


def test_early_exit_raises_with_log_tail(
    stand_in: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_MODE", "exit3")
    gw = LocalMeshGateway(port=0)
    with pytest.raises(GatewayConnectionError) as info:
        gw.start()
    assert info.value.code == "gateway_exited"
    assert "code 3" in info.value.message
    assert "fatal: stand-in told to fail" in info.value.message
    assert not gw.running and gw.pid is None


def test_never_ready_times_out_and_kills_it(
    stand_in: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_MODE", "mute")
    gw = LocalMeshGateway(port=0, startup_timeout=1.0, stop_timeout=1.0)
    with pytest.raises(GatewayConnectionError) as info:
        gw.start()
    assert info.value.code == "startup_timeout"
    assert "stand-in agentfm starting" in info.value.message
    started = next(e for e in stand_in.entries() if "argv" in e)
    assert started
    assert not gw.running
    # the mute stand-in was really started and is really gone
    assert not [p for p in psutil.process_iter(["cmdline"]) if _is_stand_in(p, stand_in)]


def _is_stand_in(proc: psutil.Process, stand_in: StandIn) -> bool:
    cmd = proc.info.get("cmdline") or []
    return any(str(stand_in.bin_dir) in part for part in cmd)


def test_double_start_is_refused(stand_in: StandIn) -> None:
    with LocalMeshGateway(port=0) as gw:
        pid = gw.pid
        with pytest.raises(GatewayAlreadyRunningError, match="already running"):
            gw.start()
        assert gw.running and gw.pid == pid


def test_stop_leaves_no_process_and_is_idempotent(stand_in: StandIn) -> None:
    gw = LocalMeshGateway(port=0).start()
    assert gw.pid is not None
    gateway = psutil.Process(gw.pid)
    family = [gateway, *_watchdogs_of(gw.pid)]
    assert len(family) == 2, "the watchdog sidecar guards the gateway"
    gw.stop()
    gw.stop()
    assert not gw.running and gw.pid is None
    _, alive = psutil.wait_procs(family, timeout=5)
    assert alive == []


def _watchdogs_of(pid: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "agentfm_nb.gateway._watchdog" in cmd and str(pid) in cmd:
            found.append(proc)
    return found


def test_restart_after_stop(stand_in: StandIn) -> None:
    gw = LocalMeshGateway(port=0)
    gw.start()
    first = gw.pid
    gw.stop()
    gw.start()
    try:
        assert gw.running and gw.pid != first
    finally:
        gw.stop()


def test_agentfm_backend_without_binary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert LocalMeshGateway(port=0).backend == "embedded"
    gw = LocalMeshGateway(port=0, backend="agentfm")
    with pytest.raises(GatewayConnectionError) as info:
        gw.start()
    assert info.value.code == "binary_not_found"


def test_embedded_command_line(tmp_path: Path) -> None:
    cfg = tmp_path / "mesh.toml"
    gw = LocalMeshGateway(backend="embedded", config=cfg, artifacts_dir=tmp_path / "a", debug=True)
    cmd = gw.argv(4321)
    assert cmd[:3] == [sys.executable, "-m", "agentfm_nb.mesh"]
    opts = dict(zip(cmd[3::2], cmd[4::2], strict=True))
    assert opts == {
        "--host": "127.0.0.1",
        "--port": "4321",
        "--artifacts-dir": str((tmp_path / "a").resolve()),
        "--config": str(cfg.resolve()),
        "--log-level": "debug",
    }
    with pytest.raises(ValueError, match="backend"):
        LocalMeshGateway(backend="docker")  # type: ignore[arg-type]


PARENT = textwrap.dedent(
    """
    import sys, threading, time
    from agentfm_nb import LocalMeshGateway

    how = sys.argv[1]
    gw = LocalMeshGateway(port=0, stop_timeout=2.0)
    if how == "thread":  # no parent-death signal from a non-main thread: the watchdog must act
        t = threading.Thread(target=gw.start)
        t.start()
        t.join()
    else:
        gw.start()
    print(gw.pid, flush=True)
    if how != "exit":
        time.sleep(120)
    """
)


@pytest.mark.parametrize("how", ["main", "thread", "exit"])
def test_gateway_dies_with_the_python_process_that_started_it(
    stand_in: StandIn, tmp_path: Path, how: str
) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"parent printed {line!r}"
        pid = int(line)
        if how == "exit":
            assert parent.wait(15) == 0  # interpreter exit without stop(): the finalizer stops it
        else:
            assert psutil.pid_exists(pid)
            parent.send_signal(signal.SIGKILL)
            parent.wait(5)
        assert wait_gone(pid), f"gateway {pid} outlived its parent ({how})"
        _, alive = psutil.wait_procs(_watchdogs_of(pid), timeout=5)
        assert alive == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_port_zero_retries_when_another_process_takes_the_port(
    stand_in: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import agentfm_nb.gateway.launcher as launcher

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picks: list[int] = []
        real_free_port = launcher.free_port

        def racy_free_port(host: str = "127.0.0.1") -> int:
            # The first pick loses the race to the squatter, as can happen between 8 test runs.
            picks.append(taken if not picks else real_free_port(host))
            return picks[-1]

        monkeypatch.setattr(launcher, "free_port", racy_free_port)
        with LocalMeshGateway(port=0) as gw:
            assert len(picks) == 2
            assert gw.url.endswith(f":{picks[1]}")
        # A fixed port that is taken is an error with the reason, not a retry.
        with pytest.raises(GatewayConnectionError, match=r"(?i)address already in use"):
            LocalMeshGateway(port=taken).start()
