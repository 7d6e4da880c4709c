"""The official SDK's six examples, run with agentfm-sdk and with agentfm_nb on one gateway.

Each script of ``agentfm-python/examples/`` at agentfm-sdk 0.3.0 (commit 896eaf1 of
Agent-FM/agentfm-core) is read from a local clone of that repository (not vendored here: it is
someone else's code), then run twice as a subprocess against the same embedded gateway: as
published, and with ``from agentfm import`` changed to ``from agentfm_nb import``. The only
other edits are the ones any user makes: the gateway URL (and the two fixed ports) point at the
test's own free ports. Both runs must print the same thing.

The clone is found at ``$AGENTFM_CORE_REPO`` (a git directory), by default the workspace's
mirror. Without it the module is skipped, saying so.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentfm_nb import AgentFMClient, LocalMeshGateway

CORE_REPO = Path(os.environ.get("AGENTFM_CORE_REPO", "/work/.mirror/Agent-FM+agentfm-core/repo"))
SDK_COMMIT = "896eaf1"
EXAMPLES = [
    "01_quickstart_and_streaming.py",
    "02_batch_scatter_gather.py",
    "03_async_with_webhook.py",
    "04_openai_drop_in.py",
    "05_local_mesh_gateway.py",
    "06_list_and_pick_by_peer_id.py",
]
DEFAULT_URL = "http://127.0.0.1:8080"
# Examples whose output does not depend on the mesh's momentary load run both libraries at once
# (03 mostly waits for the webhook, 05 for its own gateway); the others print load or compete
# for slots, so they run one library after the other.
SIDE_BY_SIDE = {"03_async_with_webhook.py", "04_openai_drop_in.py", "05_local_mesh_gateway.py"}

# Runs our embedded gateway when started as the Go binary is (``-mode api -apiport N``), so
# LocalMeshGateway in example 05 has an ``agentfm`` on PATH for both libraries.
BINARY_SHIM = textwrap.dedent(
    """\
    import os, sys
    args = sys.argv[1:]
    port = args[args.index("-apiport") + 1]
    os.execv(sys.executable, [sys.executable, "-m", "agentfm_nb.mesh",
                              "--host", "127.0.0.1", "--port", port])
    """
)


def _example(name: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(CORE_REPO), "show", f"{SDK_COMMIT}:agentfm-python/examples/{name}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        pytest.skip(f"agentfm-core {SDK_COMMIT} not found at {CORE_REPO} (set AGENTFM_CORE_REPO)")
    return out.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _edit(src: str, old: str, new: str) -> str:
    assert old in src, f"the example no longer contains {old!r}"
    return src.replace(old, new)


def adapt(src: str, library: str, url: str, webhook_port: int, gateway_port: int) -> str:
    """The user's edits: the import (for agentfm_nb) and where the gateway is."""
    if library != "agentfm":
        src = _edit(src, "from agentfm import", f"from {library} import")
    if DEFAULT_URL in src:
        src = src.replace(DEFAULT_URL, url)
    if "AgentFMClient()" in src:  # the default URL, implicit
        src = src.replace("AgentFMClient()", f"AgentFMClient(gateway_url={url!r})")
    if "PORT = 8765" in src:
        src = _edit(src, "PORT = 8765", f"PORT = {webhook_port}")
    if "LocalMeshGateway(port=8080" in src:
        src = _edit(src, "LocalMeshGateway(port=8080", f"LocalMeshGateway(port={gateway_port}")
    return src


# Values that differ from run to run by design: fresh task ids and the webhook's timing fields.
_VOLATILE = [
    (re.compile(r"task_id=('?)[A-Za-z0-9_.-]+\1"), "task_id=<id>"),
    (re.compile(r"(duration\w*|elapsed\w*|\w*_at)=[^ ]+"), r"\1=<t>"),
]


def normalise(text: str) -> str:
    for pattern, repl in _VOLATILE:
        text = pattern.sub(repl, text)
    return text


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalMeshGateway, Path]]:
    root = tmp_path_factory.mktemp("sdk-examples")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "agentfm"
    shim.write_text(f"#!{sys.executable}\n{BINARY_SHIM}")
    shim.chmod(0o755)
    gw = LocalMeshGateway(
        port=0,
        backend="embedded",
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env={"AGENTFM_API_KEYS": None, "AGENTFM_WEBHOOK_ALLOW_PRIVATE": "1"},
    )
    with gw:
        yield gw, bin_dir


def _start(script: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_prints_what_the_sdk_prints(
    name: str, mesh: tuple[LocalMeshGateway, Path], tmp_path: Path
) -> None:
    gw, bin_dir = mesh
    src = _example(name)
    with AgentFMClient(gw.url, api_key=None) as client:
        echo = client.workers.list(agent_name="Echo")[0].peer_id
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "AGENTFM_PIN_PEER": echo,  # example 06's knob for "a peer you know"
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("AGENTFM_API_KEY", None)
    runs: dict[str, tuple[int, str, str]] = {}
    started = []
    for library in ("agentfm", "agentfm_nb"):
        cwd = tmp_path / library
        cwd.mkdir()
        script = adapt(src, library, gw.url, _free_port(), _free_port())
        proc = _start(script, cwd, env)
        if name in SIDE_BY_SIDE:
            started.append((library, proc))
        else:
            runs[library] = _finish(proc)
    for library, proc in started:
        runs[library] = _finish(proc)
    (sdk_rc, sdk_out, sdk_err), (rc, out, err) = runs["agentfm"], runs["agentfm_nb"]
    assert sdk_rc == 0, f"the SDK's own run failed:\n{sdk_err[-2000:]}"
    assert rc == 0, err[-2000:]
    assert normalise(out) == normalise(sdk_out)
    assert "[AGENTFM:" not in out
    assert out.strip(), "the example printed nothing"
