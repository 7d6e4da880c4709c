"""The ``/api/execute`` body byte for byte, against a real gateway process and real agents.

What the real worker sends (worker/handler.go:handleTaskStream, worker/sandbox.go:executePodman):
the agent's stdout and stderr on one stream as written, partial lines at once, agent-printed
``[AGENTFM:`` lines verbatim, on failure ``⚠️  Sandbox exited: <Go exit text>``, then a newline
and the sentinel line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agentfm_nb.gateway import LocalMeshGateway
from agentfm_nb.mesh.taskrun import SANDBOX_EXITED

NO_FILES = b"\n[AGENTFM: NO_FILES]\n"

# prints a partial line, waits for the test to see it (a gate file), then ends the line
PARTIAL = """
import os, sys, time
gate = sys.argv[1]
sys.stdout.write("a")
sys.stdout.flush()
while not os.path.exists(gate):
    time.sleep(0.01)
sys.stdout.write("b\\n")
"""

# stdout and stderr alternate, each write flushed: the order must survive
INTERLEAVED = """
import sys
for i in range(3):
    sys.stdout.write(f"out {i}\\n"); sys.stdout.flush()
    sys.stderr.write(f"err {i}\\n"); sys.stderr.flush()
sys.stdout.write("[AGENTFM: FILES_INCOMING]\\n  [AGENTFM: NO_FILES]\\nlast")
"""

FAILING = """
import sys
print("working")
sys.stderr.write("boom\\n")
sys.exit(4)
"""


@pytest.fixture(scope="module")
def gate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gates")


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    toml_worker: Callable[..., str],
    gate_dir: Path,
) -> Iterator[LocalMeshGateway]:
    root = tmp_path_factory.mktemp("wire")
    workers = []
    for name, source, extra in (
        ("Partial", PARTIAL, [str(gate_dir / "open")]),
        ("Interleaved", INTERLEAVED, []),
        ("Failing", FAILING, []),
    ):
        script = root / f"{name.lower()}.py"
        script.write_text(source)
        argv = [sys.executable, "-u", str(script), *extra]
        workers.append(toml_worker(name, kind="command", argv=argv, timeout_s=60))
    workers.append(
        toml_worker("Echo", kind="python", callable="agentfm_nb.mesh.demo:echo", max_tasks=4)
    )
    (root / "mesh.toml").write_text('seed = "wire"\n' + "\n".join(workers))
    gateway = LocalMeshGateway(
        port=0,
        backend="embedded",
        config=root / "mesh.toml",
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env={"AGENTFM_API_KEYS": None},
    )
    with gateway:
        yield gateway


def _peer(http: httpx.Client, name: str) -> str:
    agents = http.get("/api/workers").json()["agents"]
    return str(next(a["peer_id"] for a in agents if a["name"] == name))


def _body(gw: LocalMeshGateway, name: str, prompt: str = "x") -> bytes:
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        resp = http.post("/api/execute", json={"worker_id": _peer(http, name), "prompt": prompt})
    assert resp.status_code == 200
    return resp.content


def test_echo_body_has_the_newline_before_the_sentinel(gw: LocalMeshGateway) -> None:
    assert _body(gw, "Echo", "hello\nworld") == b"hello\nworld\n" + NO_FILES


def test_a_partial_line_is_forwarded_before_the_agent_ends_it(
    gw: LocalMeshGateway, gate_dir: Path
) -> None:
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        body = {"worker_id": _peer(http, "Partial"), "prompt": "x"}
        with http.stream("POST", "/api/execute", json=body) as resp:
            chunks = resp.iter_raw()
            # the agent is blocked on the gate: "a" could only have come as a partial line
            assert next(chunks) == b"a"
            (gate_dir / "open").touch()
            rest = b"".join(chunks)
    assert rest == b"b\n" + NO_FILES


def test_stderr_is_interleaved_and_agent_markers_pass_verbatim(gw: LocalMeshGateway) -> None:
    want = b"".join(b"out %d\nerr %d\n" % (i, i) for i in range(3))
    want += b"[AGENTFM: FILES_INCOMING]\n  [AGENTFM: NO_FILES]\nlast"
    assert _body(gw, "Interleaved") == want + NO_FILES


def test_a_failing_agent_ends_with_the_sandbox_line_then_the_sentinel(
    gw: LocalMeshGateway,
) -> None:
    want = f"working\nboom\n{SANDBOX_EXITED}exit status 4\n".encode()
    assert _body(gw, "Failing") == want + NO_FILES


def test_the_python_kind_writes_each_item_as_print_would(gw: LocalMeshGateway) -> None:
    # a returned text without a final newline gets one, as print() adds it
    assert _body(gw, "Echo", "no newline") == b"no newline\n" + NO_FILES
    assert _body(gw, "Echo", "ends\n") == b"ends\n" + NO_FILES
