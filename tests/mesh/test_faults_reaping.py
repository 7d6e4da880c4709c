"""Agent processes end without harm to anyone else's, and a task ends with its response.

One real gateway process (``python -m agentfm_nb.mesh``) for the module:

* a reused pid: once an agent is reaped its pid, and with it the id of the group it led, can go
  to an unrelated process that leads a group of its own (another test's agent, typically). The
  gateway must never signal that group. The pid is handed over on purpose through
  ``/proc/sys/kernel/ns_last_pid``.
* nothing reaps asyncio's children behind its back (which asyncio reports as
  ``Unknown child process pid N, will report returncode 255``).
* a client that leaves at any moment, even before the body starts, frees the worker's slot and
  its ``task_id``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentfm_nb.gateway import LocalMeshGateway
from tests.mesh._http_support import wait_until

NS_LAST_PID = Path("/proc/sys/kernel/ns_last_pid")

# Prints its pid and a setsid()'d child's, whose cleared environment hides it from the task's
# sweep; the child keeps the stream open until the gate file (the prompt) exists.
ESCAPE = textwrap.dedent(
    """
    import os, subprocess, sys
    gate = sys.stdin.read().strip()
    child = (
        "import os, sys, time\\n"
        f"while not os.path.exists({gate!r}): time.sleep(0.01)\\n"
        "print('child done', flush=True)\\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], env={}, start_new_session=True)
    print(f"leader {os.getpid()} child {proc.pid}", flush=True)
    """
)
# Leaves a child in its process group, holding the stream, whose cleared environment hides it
# from the task's tag: only the group it was left in ties it to the task.
ORPHAN = textwrap.dedent(
    """
    import subprocess, sys
    sys.stdin.read()
    child = "import time; time.sleep(300)"
    proc = subprocess.Popen([sys.executable, "-c", child], env={})
    print(f"child {proc.pid}", flush=True)
    """
)
# "hold" keeps the agent busy until it is killed; anything else is answered at once
HOLD = textwrap.dedent(
    """
    import sys, time
    prompt = sys.stdin.read()
    if "big" in prompt:  # 6 MiB of lines
        sys.stdout.write(("x" * 1023 + "\\n") * 6144)
    print("holding" if prompt == "hold" else "answer:" + prompt, flush=True)
    if prompt == "hold":
        time.sleep(120)
    """
)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMeshGateway]:
    root = tmp_path_factory.mktemp("reaping")
    tables = []
    for name, source, slots in (
        ("Escape", ESCAPE, 1),
        ("Hold", HOLD, 3),
        ("Big", HOLD, 1),
        ("Orphan", ORPHAN, 1),
    ):
        script = root / f"{name.lower()}.py"
        script.write_text(source)
        argv = json.dumps([sys.executable, "-u", str(script)])
        tables.append(
            f'[[workers]]\nname = "{name}"\nengine = "{name.lower()}"\nauthor = "t"\n'
            f'kind = "command"\nargv = {argv}\nmax_tasks = {slots}\n'
        )
    tables.append(
        '[[workers]]\nname = "Echo"\nengine = "echo"\nauthor = "t"\nkind = "python"\n'
        'callable = "agentfm_nb.mesh.demo:echo"\n'
    )
    config = root / "mesh.toml"
    config.write_text("\n".join(tables))
    gateway = LocalMeshGateway(
        port=0,
        backend="embedded",
        config=config,
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env={"AGENTFM_API_KEYS": None},
    )
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


def _workers(gw: LocalMeshGateway) -> dict[str, dict[str, object]]:
    agents = httpx.get(f"{gw.url}/api/workers").json()["agents"]
    return {a["name"]: a for a in agents}


def _idle(gw: LocalMeshGateway, name: str) -> bool:
    return _workers(gw)[name]["current_tasks"] == 0


def _spawn_with_pid(pid: int) -> subprocess.Popen[bytes] | None:
    """A process leading its own group, given ``pid`` (None if others keep taking it first)."""
    for _ in range(200):
        try:
            NS_LAST_PID.write_text(str(pid - 1))
        except OSError:
            return None
        proc = subprocess.Popen(["sleep", "600"], start_new_session=True)
        if proc.pid == pid:
            return proc
        proc.kill()
        proc.wait()
    return None


def _gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.skipif(not os.access(NS_LAST_PID, os.W_OK), reason="needs a writable ns_last_pid")
def test_reused_pid_of_a_reaped_agent_is_not_signalled(
    gw: LocalMeshGateway, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    peer = _workers(gw)["Escape"]["peer_id"]
    stranger: subprocess.Popen[bytes] | None = None
    child = 0
    body = {"worker_id": peer, "prompt": str(gate)}
    try:
        with httpx.stream("POST", f"{gw.url}/api/execute", json=body, timeout=60) as resp:
            lines = resp.iter_lines()
            first = next(lines)
            assert first.startswith("leader "), first
            _, leader, _, child_s = first.split()
            pid, child = int(leader), int(child_s)
            # the agent has exited and been reaped; the stream stays open through its child
            assert wait_until(lambda: _gone(pid)), "the gateway never reaped its agent"
            stranger = _spawn_with_pid(pid)
            if stranger is None:
                pytest.skip(f"pid {pid} kept going to other processes")
            gate.touch()
            rest = list(lines)
        assert "child done" in rest
        assert rest[-1].startswith("[AGENTFM")
        assert wait_until(lambda: _idle(gw, "Escape"))
        # the task is over, and the stranger that took the agent's pid is untouched
        assert stranger.poll() is None
    finally:
        gate.touch()
        if stranger is not None:
            stranger.kill()
            stranger.wait()
        if child and not _gone(child):
            os.kill(child, 9)


def test_what_an_agent_left_in_its_group_goes_with_it(gw: LocalMeshGateway) -> None:
    peer = _workers(gw)["Orphan"]["peer_id"]
    resp = httpx.post(f"{gw.url}/api/execute", json={"worker_id": peer, "prompt": "x"}, timeout=60)
    first, *rest = resp.text.splitlines()
    child = int(first.removeprefix("child "))
    assert rest[-1].startswith("[AGENTFM")  # the stream ended with the agent, not the child
    assert wait_until(lambda: _gone(child))


def test_cancelled_agents_are_reaped_by_asyncio_alone(gw: LocalMeshGateway) -> None:
    peer = _workers(gw)["Hold"]["peer_id"]
    for _ in range(8):
        with httpx.stream(
            "POST", f"{gw.url}/api/execute", json={"worker_id": peer, "prompt": "hold"}
        ) as resp:
            assert next(resp.iter_lines()) == "holding"
        # leaving the response mid-task kills the agent
    assert wait_until(lambda: _idle(gw, "Hold"))
    assert "Unknown child process" not in gw.log_tail(10_000)


def _post(path: str, body: object) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _request(task_id: str, peer: str, prompt: str) -> bytes:
    return _post("/api/execute", {"worker_id": peer, "prompt": prompt, "task_id": task_id})


def _reset(sock: socket.socket) -> None:
    """Close with a RST (SO_LINGER 0) rather than a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _address(gw: LocalMeshGateway) -> tuple[str, int]:
    host, port = gw.url.removeprefix("http://").split(":")
    return host, int(port)


def test_client_leaving_at_once_frees_slot_and_task_id(gw: LocalMeshGateway) -> None:
    peer = str(_workers(gw)["Hold"]["peer_id"])
    task_id = "leave-at-once-1"
    raw = _request(task_id, peer, "hold")
    for i in range(20):
        sock = socket.create_connection(_address(gw))
        sock.sendall(raw)
        if i % 2:  # half of them reset the connection rather than closing it
            _reset(sock)
        else:
            sock.close()
    assert wait_until(lambda: _idle(gw, "Hold")), _workers(gw)["Hold"]
    # the same task_id is accepted again, and runs to its end
    body = {"worker_id": peer, "prompt": "again", "task_id": task_id}
    resp = httpx.post(f"{gw.url}/api/execute", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.text.startswith("answer:again\n")
    assert wait_until(lambda: _idle(gw, "Hold"))


def test_client_leaving_before_the_body_starts_frees_slot_and_task_id(
    gw: LocalMeshGateway,
) -> None:
    """The response's headers wait on a full send buffer, and the client leaves meanwhile.

    Two pipelined requests on one connection whose reader never reads: a large buffered answer
    (6 MiB, more than the socket buffers hold) fills the connection's buffers, so the streamed
    task after it (agent already started) stalls in sending its headers, before its body has
    taken a step.
    """
    workers = _workers(gw)
    peer = str(workers["Hold"]["peer_id"])
    task_id = "leave-before-body-1"
    big = {"model": "big", "messages": [{"role": "user", "content": "big"}]}
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.connect(_address(gw))
        sock.sendall(_post("/v1/chat/completions", big) + _request(task_id, peer, "hold"))
        # the second task is running (its agent started) while its response waits to be sent
        # (the first one runs on another worker)
        assert wait_until(lambda: _workers(gw)["Hold"]["current_tasks"] == 1, 60)
    finally:
        _reset(sock)
    assert wait_until(lambda: _idle(gw, "Hold")), _workers(gw)["Hold"]
    body = {"worker_id": peer, "prompt": "again", "task_id": task_id}
    resp = httpx.post(f"{gw.url}/api/execute", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.text.startswith("answer:again\n")
