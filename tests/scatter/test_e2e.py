"""Scatter end to end: our clients, the real embedded gateway, real agents over loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import agentfm_nb.scatter.accessor  # noqa: F401  (registers df.agentfm)
from agentfm_nb.client import AgentFMClient, AsyncAgentFMClient, _default
from agentfm_nb.gateway import LocalMeshGateway
from agentfm_nb.gateway._process import free_port
from agentfm_nb.scatter import ScatterEvent
from tests.conftest import worker_toml

pytestmark = pytest.mark.slow


def test_one_failing_worker_of_four_every_prompt_succeeds(
    start_gateway: Callable[..., LocalMeshGateway], write_agent: Callable[..., object]
) -> None:
    broken = write_agent(
        """
        import sys
        sys.stdin.read()
        print("about to fail", flush=True)
        sys.exit(1)
        """,
        name="broken.py",
    )
    good = "".join(
        worker_toml(f"Good {i}", kind="python", callable="agentfm_nb.mesh.demo:echo", max_tasks=2)
        for i in range(3)
    )
    config = good + broken.worker("Broken", max_tasks=2)  # type: ignore[attr-defined]
    gw = start_gateway(config)
    with AgentFMClient(gw.url, api_key=None) as client:
        workers = client.workers.list()
        bad_id = next(w.peer_id for w in workers if w.name == "Broken")
        prompts = [f"question {i}" for i in range(24)]
        res = client.tasks.scatter_by_model(prompts, model="test", max_retries=2)
    assert [r.status for r in res] == ["success"] * 24, [r.error for r in res.failed]
    assert [r.text.strip() for r in res] == prompts
    assert all(r.worker_id != bad_id for r in res)
    # the broken worker did get work and every one of its attempts was failed over
    assert any(r.attempts > 1 for r in res)
    assert res.to_dataframe()["status"].eq("success").all()


SLOW_AGENT = """
import asyncio

async def run(prompt: str) -> str:
    await asyncio.sleep(0.15)
    return "answer to " + prompt
"""


@pytest.fixture
def slow_mesh(tmp_path: Path) -> Iterator[Callable[[], LocalMeshGateway]]:
    """Starts gateways with the same config, seed and port (so peer ids and URL survive)."""
    agent = tmp_path / "slow.py"
    agent.write_text(textwrap.dedent(SLOW_AGENT))
    config = tmp_path / "mesh.toml"
    config.write_text(
        'seed = "scatter-restart"\n'
        + "".join(
            worker_toml(f"Slow {i}", kind="python", callable=f"{agent}:run", max_tasks=2)
            for i in range(2)
        )
    )
    port = free_port()
    started: list[LocalMeshGateway] = []

    def start() -> LocalMeshGateway:
        gw = LocalMeshGateway(
            port=port,
            backend="embedded",
            config=config,
            artifacts_dir=tmp_path / "artifacts",
            log_file=tmp_path / f"gateway-{len(started)}.log",
            env={"AGENTFM_API_KEYS": None},
        )
        started.append(gw)
        gw.start()
        return gw

    try:
        yield start
    finally:
        for gw in started:
            gw.stop()


async def test_gateway_killed_mid_scatter_then_retry_failed(
    slow_mesh: Callable[[], LocalMeshGateway],
) -> None:
    gw = await asyncio.to_thread(slow_mesh)
    done_count = 0
    six_done = asyncio.Event()

    def on_event(ev: ScatterEvent) -> None:
        nonlocal done_count
        done_count += ev.state == "done"
        if done_count >= 6:
            six_done.set()

    async with AsyncAgentFMClient(gw.url, api_key=None, retries=0) as client:
        ids = [w.peer_id for w in await client.workers.list()]
        prompts = [f"q{i}" for i in range(30)]
        task = asyncio.ensure_future(
            client.tasks.scatter(prompts, peer_ids=ids, max_retries=1, on_event=on_event)
        )
        await asyncio.wait_for(six_done.wait(), 30)
        assert gw.pid is not None
        os.kill(gw.pid, signal.SIGKILL)
        res = await asyncio.wait_for(task, 60)
        done = [r for r in res if r.status == "success"]
        failed = res.failed
        assert 6 <= len(done) < 30 and failed
        assert all(r.status == "failed" for r in failed)
        assert {r.error_type for r in failed} <= {
            "GatewayConnectionError",
            "WorkerStreamError",
            "NoPeerError",
        }, {r.error_type for r in failed}
        assert all(r.text.strip() == f"answer to {r.prompt}" for r in done)

        await asyncio.to_thread(gw.stop)
        await asyncio.to_thread(slow_mesh)  # same port, same seed: same URL and peer ids
        again = await res.aretry_failed()
    assert [r.status for r in again] == ["success"] * 30
    assert [r.text.strip() for r in again] == [f"answer to q{i}" for i in range(30)]
    kept = [i for i, r in enumerate(res) if r.status == "success"]
    assert all(again[i] is res[i] for i in kept)  # successes were not re-sent


def test_dataframe_accessor_end_to_end(gateway: LocalMeshGateway) -> None:
    df = pd.DataFrame({"question": ["alpha", "beta", "gamma"]}, index=[10, 20, 30])
    with AgentFMClient(gateway.url, api_key=None) as client:
        df["answer"] = df.agentfm.scatter("question", model="echo", client=client)
        assert df["answer"].str.strip().tolist() == ["alpha", "beta", "gamma"]
        assert df["answer"].dtype == "string"

        frame = df.agentfm.scatter_frame(template="say {question}!", model="echo", client=client)
        assert frame.index.tolist() == [10, 20, 30]
        assert frame["status"].eq("success").all()
        assert frame["text"].str.strip().tolist() == ["say alpha!", "say beta!", "say gamma!"]

        # no client given: the process default one (what the magics set)
        _default.set_default_client(client)
        try:
            by_default = df.agentfm.scatter("question", model="Echo")
        finally:
            _default.set_default_client(None)
        assert by_default.str.strip().tolist() == ["alpha", "beta", "gamma"]

        # an unknown peer id fails its rows: NA in the answer column, nothing raised
        bogus = "12D3KooWBogusPeerIdThatIsNotOnThisMeshAtAll1111111111"
        failed = df.agentfm.scatter("question", peer_ids=[bogus], client=client, max_retries=0)
        assert failed.isna().all() and failed.index.tolist() == [10, 20, 30]

    with pytest.raises(KeyError, match="no column"):
        df.agentfm.scatter("nope", model="echo", client=object())
    with pytest.raises(TypeError, match="exactly one"):
        df.agentfm.scatter("question", client=object())
