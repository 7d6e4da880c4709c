"""Agents that misbehave, against a real gateway process: background children holding the
pipe, children escaping with ``setsid()``, python agents that sleep or spin past their timeout,
and upstream secrets. One gateway serves the module; each case uses its own worker.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psutil
import pytest

from agentfm_nb.gateway import LocalMeshGateway
from tests._procs import wait_gone

SANDBOX = "\u26a0\ufe0f  Sandbox exited: "
NO_FILES = "[AGENTFM: NO_FILES]"
UPSTREAM_KEY = "sk-upstream-secret-4f9a2c7e"
UPSTREAM_PASSWORD = "pa55-w0rd-9d1e"

# Leaves a plain background child and a setsid() child holding stdout, then exits at once.
ESCAPER = r"""
sleep 300 &
echo "bg $!"
python3 -c 'import os, time; os.setsid(); time.sleep(301)' &
echo "sid $!"
echo done
"""

PY_AGENTS = """
import os, time

def sleepy(prompt):
    time.sleep(60)
    return "woke"

def spinner(prompt):
    while True:
        pass

def env_probe(prompt):
    return "ok"
"""

ENV_PROBE = """
import os
print("key", repr(os.environ.get("UPSTREAM_KEY_FOR_TEST")), flush=True)
"""


class _Upstream(BaseHTTPRequestHandler):
    """An OpenAI-style server that answers 401 quoting the credentials it was sent."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {"error": {"message": f"bad credentials: {self.headers.get('Authorization')}"}}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, toml_worker: Callable[..., str], upstream: int
) -> Iterator[LocalMeshGateway]:
    root = tmp_path_factory.mktemp("faults-agents")
    (root / "pyagents.py").write_text(PY_AGENTS)
    (root / "env_probe.py").write_text(ENV_PROBE)
    auth_url = f"http://tester:{UPSTREAM_PASSWORD}@127.0.0.1:{upstream}/v1"
    toml = "\n".join(
        [
            'seed = "faults-agents"',
            toml_worker("Escaper", kind="command", argv=["bash", "-c", ESCAPER], timeout_s=120),
            toml_worker(
                "Sleepy", kind="python", callable=f"{root}/pyagents.py:sleepy", timeout_s=0.3
            ),
            toml_worker(
                "Spinner", kind="python", callable=f"{root}/pyagents.py:spinner", timeout_s=0.3
            ),
            toml_worker(
                "Keyed",
                kind="openai",
                base_url=auth_url,
                model="m",
                api_key_env="UPSTREAM_KEY_FOR_TEST",
            ),
            toml_worker(
                "Gone",
                kind="openai",
                base_url=f"http://tester:{UPSTREAM_PASSWORD}@127.0.0.1:9/v1",
                model="m",
                api_key_env="UPSTREAM_KEY_FOR_TEST",
            ),
            toml_worker(
                "EnvProbe", kind="command", argv=[sys.executable, str(root / "env_probe.py")]
            ),
        ]
    )
    (root / "mesh.toml").write_text(toml)
    gateway = LocalMeshGateway(
        port=0,
        backend="embedded",
        config=root / "mesh.toml",
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env={"AGENTFM_API_KEYS": None, "UPSTREAM_KEY_FOR_TEST": UPSTREAM_KEY},
    )
    with gateway:
        yield gateway


def _peer(http: httpx.Client, name: str) -> str:
    agents = http.get("/api/workers").json()["agents"]
    return str(next(a["peer_id"] for a in agents if a["name"] == name))


def _current(http: httpx.Client, peer: str) -> int:
    agents = http.get("/api/workers").json()["agents"]
    return int(next(a["current_tasks"] for a in agents if a["peer_id"] == peer))


def test_background_children_do_not_hold_the_stream_open(gw: LocalMeshGateway) -> None:
    # The worker's timeout is 120 s and the client waits 30 s: only ending with the agent's own
    # exit can pass. The plain child and the one that left the group are both killed.
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        resp = http.post("/api/execute", json={"worker_id": _peer(http, "Escaper"), "prompt": "x"})
    assert resp.status_code == 200
    lines = resp.text.splitlines()
    assert lines[-3:] == ["done", "", NO_FILES], lines
    pids = {name: int(pid) for name, pid in (line.split() for line in lines[:2])}
    assert set(pids) == {"bg", "sid"}
    for name, pid in pids.items():
        assert wait_gone(pid), f"the {name} child outlived its task"


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_timed_out_sleeping_python_agents_do_not_pile_up_threads(gw: LocalMeshGateway) -> None:
    assert gw.pid is not None
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        peer = _peer(http, "Sleepy")
        before = _threads(gw.pid)
        answers = []
        for _ in range(10):
            resp = http.post("/api/execute", json={"worker_id": peer, "prompt": "x"})
            answers.append((resp.status_code, resp.text))
        # the first one timed out; its thread still sleeps, so its slot stays taken and the
        # others are refused instead of starting a thread each
        assert answers[0] == (200, f"{SANDBOX}signal: killed\n\n{NO_FILES}\n")
        assert all("Sandbox exited" not in text for _, text in answers[1:]), answers
        assert _current(http, peer) == 1
        assert _threads(gw.pid) - before <= 2


def test_a_spinning_python_agent_is_stopped_at_its_timeout(gw: LocalMeshGateway) -> None:
    assert gw.pid is not None
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        peer = _peer(http, "Spinner")
        resp = http.post("/api/execute", json={"worker_id": peer, "prompt": "x"})
        assert resp.text == f"{SANDBOX}signal: killed\n\n{NO_FILES}\n"
        deadline = time.monotonic() + 10
        while _current(http, peer) != 0:  # freed once the spinning thread has really stopped
            assert time.monotonic() < deadline, "the spinning agent was never stopped"
            time.sleep(0.05)
    # an idle gateway, not one core burnt by a loop nobody waits for
    assert psutil.Process(gw.pid).cpu_percent(interval=1.0) < 50


@pytest.mark.parametrize("name", ["Keyed", "Gone"])
def test_upstream_errors_reach_clients_without_credentials(gw: LocalMeshGateway, name: str) -> None:
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        peer = _peer(http, name)
        answers = [http.post("/api/execute", json={"worker_id": peer, "prompt": "x"}).text]
        body = {"model": peer, "messages": [{"role": "user", "content": "x"}]}
        answers.append(http.post("/v1/chat/completions", json=body).text)
        answers.append(repr(http.get("/api/workers").json()))
    for text in answers:
        assert UPSTREAM_KEY not in text and UPSTREAM_PASSWORD not in text, text
    # the failure itself still shows
    assert answers[0].endswith(f"{SANDBOX}exit status 1\n\n{NO_FILES}\n")
    if name == "Keyed":
        assert "bad credentials: Bearer ***" in answers[0]
    else:
        assert "upstream http://127.0.0.1:9/v1/chat/completions failed" in answers[0]


def test_an_upstream_key_is_not_passed_to_other_workers_agents(gw: LocalMeshGateway) -> None:
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        peer = _peer(http, "EnvProbe")
        resp = http.post("/api/execute", json={"worker_id": peer, "prompt": "x"})
    assert resp.text.splitlines()[0] == "key None"


def test_agent_guard_is_its_own_session(gw: LocalMeshGateway) -> None:
    # a Ctrl-C or killpg meant for the gateway must not take down what cleans up after it
    assert gw.pid is not None
    guards = [
        p
        for p in psutil.Process(gw.pid).children()
        if any(part.endswith("guard.py") for part in p.cmdline())
    ]
    assert len(guards) == 1
    assert os.getsid(guards[0].pid) != os.getsid(gw.pid)


def _assert_all_gone(pids: list[int]) -> None:
    left = [pid for pid in pids if not wait_gone(pid)]
    assert not left, f"left running: {left}"


def test_kill_9_of_the_gateway_leaves_no_agent_process(
    start_gateway: Callable[..., LocalMeshGateway], toml_worker: Callable[..., str]
) -> None:
    script = ESCAPER.replace("echo done", 'echo "self $$"; echo ready; sleep 302')
    gw = start_gateway(toml_worker("Holder", kind="command", argv=["bash", "-c", script]))
    assert gw.pid is not None
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        peer = _peer(http, "Holder")
        body = {"worker_id": peer, "prompt": "x"}
        pids: list[int] = []
        with http.stream("POST", "/api/execute", json=body) as resp:
            # next(), not a for-break: closing the iterator would drop the connection, and a
            # client leaving kills the agent by itself
            lines = resp.iter_lines()
            while (line := next(lines)) != "ready":
                pids.append(int(line.split()[1]))
            assert len(pids) == 3
            family = sorted({c.pid for pid in pids for c in _children(pid)} - set(pids))
            os.kill(gw.pid, 9)
            _assert_all_gone(pids + family)


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
