"""Faults during a stream, against a real gateway process and real subprocess agents.

A client leaving while its agent is busy writing, agents that die by ``os._exit`` or SIGKILL,
a hanging agent that ignores SIGTERM (per-task timeout), and SIGTERM to the gateway with several
busy streams: each must end the stream cleanly (or free the slot), count the error and leave no
agent process behind. (``test_http_api.py``/``test_http_server.py`` cover the quiet-agent cases.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentfm_nb.gateway import LocalMeshGateway

SENTINELS = ("[AGENTFM: NO_FILES]", "[AGENTFM: FILES_INCOMING]")
# worker/sandbox.go:executePodman writes this (Go's ExitError text follows) before the sentinel
SANDBOX = "\u26a0\ufe0f  Sandbox exited: "

# One script, told what to do by the prompt "<mode>:<tag>". It writes its pid to <dir>/<tag>.pid
# first, so a test knows exactly which process ran its task.
AGENT = """
import os, signal, sys, time
prompt = os.environ.get("AGENTFM_PROMPT") or sys.stdin.read()
mode, _, tag = prompt.partition(":")
with open(os.path.join(sys.argv[1], tag + ".pid"), "w") as fh:
    fh.write(str(os.getpid()))
print("started " + tag, flush=True)
if mode == "forever":
    i = 0
    while True:
        print("line", i, flush=True)
        i += 1
        time.sleep(0.05)
elif mode == "crash":
    print("partial 1", flush=True)
    print("partial 2", flush=True)
    os._exit(7)
elif mode == "selfkill":
    print("partial 1", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "traceback":
    print("partial 1", flush=True)
    def deep():
        raise RuntimeError("boom " + tag)
    deep()
elif mode == "hang":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL will do
    print("about to hang", flush=True)
    time.sleep(3600)
"""


class FaultMesh:
    def __init__(self, gw: LocalMeshGateway, script: Path, pid_dir: Path) -> None:
        self.gw = gw
        self.script = script
        self.pid_dir = pid_dir

    def pid_of(self, tag: str) -> int:
        path = self.pid_dir / f"{tag}.pid"
        deadline = time.monotonic() + 10
        while not path.exists() or not path.read_text():
            assert time.monotonic() < deadline, f"agent {tag} never started"
            time.sleep(0.02)
        return int(path.read_text())

    def agent_processes(self) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            if str(self.script) in (proc.info.get("cmdline") or []):
                with_status = _alive(proc)
                if with_status:
                    found.append(proc)
        return found


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not _alive(psutil.Process(pid)):
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def mesh_toml(root: Path, toml_worker: Callable[..., str]) -> tuple[str, Path]:
    """Three command workers running the fault agent; its pid files go to ``root/pids``."""
    script = root / f"fault_agent_{uuid.uuid4().hex[:8]}.py"
    script.write_text(AGENT)
    (root / "pids").mkdir(exist_ok=True)
    argv = [sys.executable, "-u", str(script), str(root / "pids")]
    common: dict[str, Any] = {"kind": "command", "argv": argv, "engine": "faults"}
    toml = "\n".join(
        [
            'seed = "faults"',
            toml_worker("Faulty", max_tasks=1, **common),
            toml_worker("Crowd", max_tasks=3, **common),
            toml_worker("Hanger", max_tasks=1, timeout_s=1.0, **common),
        ]
    )
    return toml, script


@pytest.fixture(scope="module")
def faults(
    tmp_path_factory: pytest.TempPathFactory, toml_worker: Callable[..., str]
) -> Iterator[FaultMesh]:
    """One gateway for this module's fault tests (they run one after another)."""
    root = tmp_path_factory.mktemp("faults")
    toml, script = mesh_toml(root, toml_worker)
    (root / "mesh.toml").write_text(toml)
    gw = LocalMeshGateway(
        port=0,
        backend="embedded",
        config=root / "mesh.toml",
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env={"AGENTFM_API_KEYS": None},
    )
    with gw:
        mesh = FaultMesh(gw, script, root / "pids")
        yield mesh
    assert mesh.agent_processes() == []


async def peer_of(http: httpx.AsyncClient, name: str) -> str:
    resp = await http.get("/api/workers")
    resp.raise_for_status()
    return next(a["peer_id"] for a in resp.json()["agents"] if a["name"] == name)


async def current_tasks(http: httpx.AsyncClient, peer: str) -> int:
    resp = await http.get("/api/workers")
    return int(next(a["current_tasks"] for a in resp.json()["agents"] if a["peer_id"] == peer))


async def wait_idle(http: httpx.AsyncClient, peer: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (n := await current_tasks(http, peer)) != 0:
        assert time.monotonic() < deadline, f"slot never freed: current_tasks={n}"
        await asyncio.sleep(0.05)


async def tasks_total(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    totals = {"ok": 0.0, "error": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "agentfm_tasks_total":
                totals[sample.labels["status"]] = sample.value
    return totals


def tag() -> str:
    return uuid.uuid4().hex[:12]


async def test_client_leaving_while_agent_writes_kills_it_and_frees_slot(faults: FaultMesh) -> None:
    async with httpx.AsyncClient(base_url=faults.gw.url, timeout=10) as http:
        peer = await peer_of(http, "Faulty")
        t = tag()
        body = {"worker_id": peer, "prompt": f"forever:{t}"}
        async with http.stream("POST", "/api/execute", json=body) as resp:
            assert resp.status_code == 200
            lines = resp.aiter_lines()
            assert await anext(lines) == f"started {t}"
            assert await anext(lines) == "line 0"
            pid = faults.pid_of(t)
            assert await current_tasks(http, peer) == 1
        # Leaving the block mid-body drops the connection: the agent must die with it.
        assert wait_gone(pid), "agent kept running after the client left"
        await wait_idle(http, peer)
        # The only slot (max_tasks = 1) is usable again.
        t2 = tag()
        resp = await http.post("/api/execute", json={"worker_id": peer, "prompt": f"crash:{t2}"})
        assert resp.status_code == 200
    assert faults.agent_processes() == []


@pytest.mark.parametrize("mode", ["crash", "selfkill"])
async def test_agent_dying_mid_stream_ends_it_cleanly(faults: FaultMesh, mode: str) -> None:
    async with httpx.AsyncClient(base_url=faults.gw.url, timeout=20) as http:
        peer = await peer_of(http, "Faulty")
        before = await tasks_total(http)
        t = tag()
        resp = await http.post("/api/execute", json={"worker_id": peer, "prompt": f"{mode}:{t}"})
        assert resp.status_code == 200
        lines = resp.text.splitlines()
        # What the agent said before dying is kept, then exactly one sentinel closes the stream.
        assert lines[:2] == [f"started {t}", "partial 1"]
        assert lines[-1] in SENTINELS
        assert sum(line in SENTINELS for line in lines) == 1
        # The failure is reported after the partial output, then the blank line and sentinel.
        end = "exit status 7" if mode == "crash" else "signal: killed"
        assert lines[-3:-1] == [SANDBOX + end, ""]
        assert wait_gone(faults.pid_of(t))
        after = await tasks_total(http)
        assert sum(after.values()) == sum(before.values()) + 1  # counted once
        await wait_idle(http, peer)


async def test_agent_traceback_reaches_the_client_in_band(faults: FaultMesh) -> None:
    async with httpx.AsyncClient(base_url=faults.gw.url, timeout=20) as http:
        peer = await peer_of(http, "Faulty")
        t = tag()
        resp = await http.post("/api/execute", json={"worker_id": peer, "prompt": f"traceback:{t}"})
        lines = resp.text.splitlines()
        # stderr shares the stream (cmd.Stderr = the stream in worker/handler.go), so the whole
        # traceback arrives where the agent wrote it, then the exit line, a blank and the sentinel
        assert lines[:3] == [f"started {t}", "partial 1", "Traceback (most recent call last):"]
        assert any("in deep" in line for line in lines)
        assert lines[-4:] == [
            f"RuntimeError: boom {t}",
            SANDBOX + "exit status 1",
            "",
            SENTINELS[0],
        ]
        await wait_idle(http, peer)


async def test_hanging_agent_hits_the_task_timeout(faults: FaultMesh) -> None:
    async with httpx.AsyncClient(base_url=faults.gw.url, timeout=30) as http:
        peer = await peer_of(http, "Hanger")
        before = await tasks_total(http)
        t = tag()
        resp = await http.post("/api/execute", json={"worker_id": peer, "prompt": f"hang:{t}"})
        assert resp.status_code == 200
        lines = resp.text.splitlines()
        assert lines[:2] == [f"started {t}", "about to hang"]
        assert lines[-3:] == [SANDBOX + "signal: killed", "", SENTINELS[0]]
        # It ignored SIGTERM: the gateway had to SIGKILL it.
        assert wait_gone(faults.pid_of(t))
        after = await tasks_total(http)
        assert sum(after.values()) == sum(before.values()) + 1  # counted once
        await wait_idle(http, peer)


async def _read_all(
    http: httpx.AsyncClient, peer: str, t: str, started: asyncio.Event
) -> tuple[list[str], bool]:
    """The lines of one stream and whether it ended with a complete body."""
    got: list[str] = []
    body = {"worker_id": peer, "prompt": f"forever:{t}"}
    async with http.stream("POST", "/api/execute", json=body) as resp:
        assert resp.status_code == 200
        try:
            async for line in resp.aiter_lines():
                got.append(line)
                if len(got) == 2:
                    started.set()
        except httpx.RemoteProtocolError:
            # The gateway may cut the chunked body at shutdown; the stream still has to end.
            return got, False
    return got, True


async def test_sigterm_ends_streams_and_leaves_no_agents(
    start_gateway: Callable[..., LocalMeshGateway],
    tmp_path: Path,
    toml_worker: Callable[..., str],
) -> None:
    toml, script = mesh_toml(tmp_path, toml_worker)
    gw = start_gateway(toml)
    mesh = FaultMesh(gw, script, tmp_path / "pids")
    async with httpx.AsyncClient(base_url=gw.url, timeout=30) as http:
        peer = await peer_of(http, "Crowd")
        tags = [tag() for _ in range(3)]
        events = [asyncio.Event() for _ in tags]
        streams = [
            asyncio.ensure_future(_read_all(http, peer, t, e))
            for t, e in zip(tags, events, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 15)
        pids = [mesh.pid_of(t) for t in tags]
        assert gw.pid is not None
        os.kill(gw.pid, signal.SIGTERM)
        results = await asyncio.wait_for(asyncio.gather(*streams), 20)
    for t, (lines, complete) in zip(tags, results, strict=True):
        assert lines[:2] == [f"started {t}", "line 0"]  # partial output kept
        # The body is closed properly, as a real worker's shutdown kills its sandboxes: the
        # exit line, then the sentinel, so a client can tell the stream was cut short.
        assert complete, f"stream {t} was cut mid-body"
        assert lines[-3:] == [SANDBOX + "signal: killed", "", SENTINELS[0]]
        assert sum(line in SENTINELS for line in lines) == 1
    assert await asyncio.to_thread(gw.wait, 20) == 0
    for pid in pids:
        assert wait_gone(pid)
    assert mesh.agent_processes() == []
