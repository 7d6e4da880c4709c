"""``LocalMeshGateway``: the SDK's constructor arguments, errors, attributes and messages.

Both classes are given the same situation (no binary, a missing binary path, a missing swarm
key) and must fail the same way. A stand-in ``agentfm`` on PATH plays the Go binary.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from agentfm.daemon import LocalMeshGateway as SdkGateway

from agentfm_nb import GatewayConnectionError, LocalMeshGateway


def test_missing_binary_is_file_not_found_for_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing named agentfm anywhere
    with pytest.raises(FileNotFoundError):
        SdkGateway(port=0).start()
    for gw in (
        LocalMeshGateway(port=0, backend="agentfm"),
        LocalMeshGateway(port=0, binary_path=tmp_path / "no-such-agentfm"),
        LocalMeshGateway(port=0, binary_path="agentfm"),
    ):
        with pytest.raises(FileNotFoundError) as info:
            gw.start()
        assert isinstance(info.value, GatewayConnectionError)  # and our own tree
        assert info.value.code == "binary_not_found"
        assert gw.process is None and not gw.running
    # "auto" with no binary keeps working: the embedded gateway
    assert LocalMeshGateway(port=0).backend == "embedded"


def test_missing_swarm_key_refused_before_launch(stand_in_on_path: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no.key"
    with pytest.raises(FileNotFoundError):
        SdkGateway(port=0, swarm_key=missing).start()
    gw = LocalMeshGateway(port=0, swarm_key=missing)
    with pytest.raises(FileNotFoundError, match="swarm key not found"):
        gw.start()
    assert gw.process is None
    assert not stand_in_on_path.exists(), "nothing was launched"


def test_process_attribute_and_swarm_key_flag(stand_in_on_path: Path, tmp_path: Path) -> None:
    key = tmp_path / "swarm.key"
    key.write_text("/key/swarm/psk/1.0.0/\n/base16/\n" + "ab" * 32 + "\n")
    gw = LocalMeshGateway(port=0, swarm_key=key, bootstrap="/ip4/127.0.0.1/tcp/1")
    assert gw.process is None and SdkGateway().process is None
    with gw:
        assert isinstance(gw.process, subprocess.Popen)
        assert gw.process.pid == gw.pid and gw.process.poll() is None
        argv = stand_in_on_path.read_text()
        assert str(key) in argv and "-swarmkey" in argv and "-bootstrap" in argv
        with pytest.raises(RuntimeError, match=r"start\(\) called twice"):
            gw.start()
    assert gw.process is None


def test_early_exit_and_never_ready_messages(
    stand_in_on_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDIN_MODE", "exit3")
    with pytest.raises(GatewayConnectionError, match="exited early with code 3"):
        LocalMeshGateway(port=0).start()
    monkeypatch.setenv("STANDIN_MODE", "mute")
    gw = LocalMeshGateway(port=0, startup_timeout=0.5, stop_timeout=1.0)
    with pytest.raises(GatewayConnectionError, match="did not become ready"):
        gw.start()
    assert gw.process is None


def test_sdk_constructor_arguments_are_accepted(tmp_path: Path) -> None:
    kwargs = dict(
        binary_path="agentfm",
        port=8080,
        swarm_key=str(tmp_path / "swarm.key"),
        bootstrap=None,
        debug=False,
        log_file=tmp_path / "gw.log",
        startup_timeout=15.0,
        api_key="k" * 32,
    )
    ours, theirs = LocalMeshGateway(**kwargs), SdkGateway(**kwargs)  # type: ignore[arg-type]
    assert ours.url == theirs.url == "http://127.0.0.1:8080"
    assert ours.swarm_key == theirs.swarm_key == tmp_path / "swarm.key"
    assert ours.api_key == theirs.api_key and "k" * 32 not in repr(ours)
    assert os.fspath(ours.log_file or "") == os.fspath(theirs.log_file or "")
