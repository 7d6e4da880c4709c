"""Scatter against a real gateway's in-band answers, restarts and Ctrl-C.

One gateway per module (two one-slot workers running a subprocess agent) keeps this cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import agentfm_nb
from agentfm_nb.gateway import LocalMeshGateway

AGENT = """
import os, sys, time
prompt = os.environ.get("AGENTFM_PROMPT") or sys.stdin.read()
if prompt.startswith("crash"):
    print("working on it", flush=True)
    print("ValueError: the agent's own reason", file=sys.stderr, flush=True)
    sys.exit(1)
if prompt.startswith("hold"):
    print("holding", flush=True)
    time.sleep(5)
time.sleep(0.4 if prompt.startswith("slow") else 0.05)
print("did:" + prompt, flush=True)
"""


def _config(tmp: Path, seed: str) -> Path:
    agent = tmp / "agent.py"
    agent.write_text(textwrap.dedent(AGENT))
    argv = f'["{sys.executable}", "-u", "{agent}"]'
    workers = "".join(
        f'[[workers]]\nname = "W{i}"\nengine = "inband"\nauthor = "t"\nkind = "command"\n'
        f"argv = {argv}\nmax_tasks = 1\n\n"
        for i in range(2)
    )
    path = tmp / "mesh.toml"
    path.write_text(f'seed = "{seed}"\n\n' + workers)
    return path


def _gateway(tmp: Path, port: int = 0, seed: str = "inband") -> LocalMeshGateway:
    tmp.mkdir(parents=True, exist_ok=True)
    return LocalMeshGateway(
        port=port,
        backend="embedded",
        config=_config(tmp, seed),
        artifacts_dir=tmp / "artifacts",
        log_file=tmp / f"gateway-{port}.log",
        env={"AGENTFM_API_KEYS": None},
    )


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMeshGateway]:
    with _gateway(tmp_path_factory.mktemp("inband")) as g:
        yield g


@pytest.fixture(scope="module")
def peers(gw: LocalMeshGateway) -> list[str]:
    with agentfm_nb.AgentFMClient(gw.url, api_key=None) as c:
        return [w.peer_id for w in c.workers.list(model="inband")]


def test_capacity_refusals_fail_over_and_rows_hold_the_agents_text(
    gw: LocalMeshGateway, peers: list[str]
) -> None:
    prompts = [f"slow {i}" for i in range(6)]
    with agentfm_nb.AgentFMClient(gw.url, api_key=None) as c:
        # 6 at once on 2 one-slot workers: the gateway refuses in-band, scatter places them later
        rows = c.tasks.scatter(prompts, peer_ids=peers, max_concurrency=6, max_retries=0)
        assert [r.status for r in rows] == ["success"] * 6, [r.error for r in rows]
        assert [r.text for r in rows] == [f"did:{p}\n\n" for p in prompts]
        # the refusal itself, as tasks.run returns it (the SDK's contract: text, no error)
        hold = c.tasks.stream(worker_id=peers[0], prompt="hold the slot")
        assert next(hold).text.startswith("holding")  # the agent holds the only slot now
        refused = c.tasks.run(worker_id=peers[0], prompt="x").text
        hold.close()
    assert refused.startswith("\u274c ERROR: Worker is at max capacity (1/1)")


async def test_agent_failure_is_a_failed_row_with_its_own_message(
    gw: LocalMeshGateway, peers: list[str]
) -> None:
    async with agentfm_nb.AsyncAgentFMClient(gw.url, api_key=None) as c:
        rows = await c.tasks.scatter(["crash now", "fine"], peer_ids=peers, max_retries=0)
    crash, fine = rows
    assert (crash.status, fine.status) == ("failed", "success")
    assert "the agent's own reason" in (crash.error or "")
    assert "exit status 1" in (crash.error or "")
    assert crash.text.startswith("working on it\n")  # what the agent printed is kept


def test_breaking_out_of_a_stream_in_a_variable_stops_the_agent(
    gw: LocalMeshGateway, peers: list[str]
) -> None:
    with agentfm_nb.AgentFMClient(gw.url, api_key=None) as c:
        stream = c.tasks.stream(worker_id=peers[1], prompt="slow but stopped")
        for _chunk in stream:
            break  # ``stream`` still names the stream; the loop's generator is gone
        # the response closed at the break: the one slot frees without closing ``stream``
        for _ in range(100):
            if c.workers.get(peers[1]).current_tasks == 0:
                break
            time.sleep(0.05)
        assert c.workers.get(peers[1]).current_tasks == 0
        assert c.tasks.run(worker_id=peers[1], prompt="next").text == "did:next\n\n"
        assert list(stream) == []  # a stream is iterated once


async def test_aclosing_an_async_stream_closes_the_loops_generator(
    gw: LocalMeshGateway, peers: list[str]
) -> None:
    async with agentfm_nb.AsyncAgentFMClient(gw.url, api_key=None) as c:
        async with contextlib.aclosing(c.tasks.stream(worker_id=peers[1], prompt="hold")) as s:
            async for chunk in s:
                assert chunk.text.startswith("holding")
                break
        for _ in range(100):
            if (await c.workers.get(peers[1])).current_tasks == 0:
                break
            await asyncio.sleep(0.05)
        assert (await c.workers.get(peers[1])).current_tasks == 0


def test_ctrl_c_leaves_only_finished_or_cancelled_rows(
    gw: LocalMeshGateway, peers: list[str]
) -> None:
    def interrupt() -> None:
        time.sleep(0.6)
        os.kill(os.getpid(), signal.SIGINT)

    with agentfm_nb.AgentFMClient(gw.url, api_key=None) as c:
        timer = threading.Thread(target=interrupt)
        timer.start()
        try:
            rows = c.tasks.scatter([f"slow {i}" for i in range(12)], peer_ids=peers)
        finally:
            timer.join()
    statuses = {r.status for r in rows}
    assert "cancelled" in statuses and statuses <= {"success", "cancelled"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_one_second_gateway_restart_does_not_fail_the_batch(tmp_path: Path) -> None:
    port = _free_port()
    first = _gateway(tmp_path / "a", port, "restart")
    with first, agentfm_nb.AgentFMClient(first.url, api_key=None) as c:
        ids = [w.peer_id for w in c.workers.list(model="inband")]
    # the gateway is down now; it comes back (same seed, same peer ids) a second later
    second = _gateway(tmp_path / "b", port, "restart")
    restart = threading.Timer(1.0, second.start)
    restart.start()
    try:
        # retries=4 (7.5 s of backoff per attempt): room for the new process to boot on a busy
        # machine; the default (2) rides out a restart of a gateway that boots in about a second
        url = f"http://127.0.0.1:{port}"
        with agentfm_nb.AgentFMClient(url, retries=4, api_key=None) as c:
            rows = c.tasks.scatter([f"p{i}" for i in range(4)], peer_ids=ids)
    finally:
        restart.join()
        second.stop()
    assert [r.status for r in rows] == ["success"] * 4, [r.error for r in rows]
