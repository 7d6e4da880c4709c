"""Snapshots, the three routing tiers, least-loaded choice, replication, online state, events."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from _runtime_support import peer, python_worker, running_mesh

from agentfm_nb.mesh.peerid import is_valid_peer_id
from agentfm_nb.mesh.refusals import RouteError

WIRE_FIELDS = {
    "peer_id", "author", "name", "status", "hardware", "description", "cpu_usage_pct",
    "ram_free_gb", "current_tasks", "max_tasks", "has_gpu", "gpu_used_gb", "gpu_total_gb",
    "gpu_usage_pct", "honesty_score", "is_equivocator", "dispatch_allowed", "online", "last_seen",
}  # fmt: skip
ECHO = "agentfm_nb.mesh.demo:echo"


async def test_wire_object_has_every_field(tmp_path: Path) -> None:
    spec = python_worker("HR Agent", ECHO, engine="llama3.2", author="alice", max_tasks=3,
                         description="policy", honesty_score=0.42)  # fmt: skip
    gpu = python_worker("Big", ECHO, engine="qwen", hardware="RTX 4090")
    async with running_mesh(tmp_path, spec, gpu) as mesh:
        wire = mesh.lookup(peer(mesh, "HR Agent")).to_wire()  # type: ignore[union-attr]
        assert set(wire) == WIRE_FIELDS
        assert wire["hardware"].startswith("llama3.2 (CPU: ") and wire["hardware"].endswith(
            " Cores)"
        )
        assert wire["status"] == "AVAILABLE" and wire["max_tasks"] == 3
        assert wire["honesty_score"] == 0.42 and wire["dispatch_allowed"] is True
        assert wire["online"] is True and wire["last_seen"].endswith("Z")
        assert isinstance(wire["cpu_usage_pct"], float) and wire["ram_free_gb"] > 0
        assert is_valid_peer_id(wire["peer_id"]) and wire["peer_id"].startswith("12D3KooW")
        assert mesh.lookup(peer(mesh, "Big")).hardware == "qwen (RTX 4090)"  # type: ignore[union-attr]
        body = json.loads(mesh.workers_json())
        assert body["success"] is True and body["online_count"] == 2
        assert body["agents"] == [s.to_wire() for s in mesh.snapshot()]


async def test_three_tiers_and_least_loaded(tmp_path: Path) -> None:
    workers = [
        python_worker("Alpha", ECHO, engine="llama3.2", max_tasks=2),
        python_worker("Beta", ECHO, engine="llama3.2", max_tasks=2),
        python_worker("llama3.2", ECHO, engine="other", max_tasks=1),
    ]
    async with running_mesh(tmp_path, *workers) as mesh:
        a, b, named = peer(mesh, "Alpha"), peer(mesh, "Beta"), peer(mesh, "llama3.2")
        assert mesh.route(a).peer_id == a  # tier 1: exact peer id
        assert mesh.route("ALPHA").peer_id == a  # tier 2: agent name, case-insensitive
        assert mesh.route("LLama3.2").peer_id == named  # a name match wins over engines
        assert mesh.route("other").peer_id == named  # tier 3: engine
        r1 = mesh.open_task(named, "x", "n1")
        with pytest.raises(RouteError) as err:
            mesh.route("llama3.2")  # the tier that matched is full: no fall-through
        assert err.value.code == "mesh_overloaded" and err.value.status == 503
        await r1.aclose()
        # engine tier with two candidates: least loaded first
        mesh.set_online(named, False)
        first = mesh.route("llama3.2").peer_id
        r2 = mesh.open_task(first, "x", "t2")
        second = mesh.route("llama3.2").peer_id
        assert {first, second} == {a, b}
        r3 = mesh.open_task(second, "x", "t3")
        r4 = mesh.open_task(first, "x", "t4")
        assert mesh.route("llama3.2").peer_id == second  # 1/2 loaded beats 2/2
        r5 = mesh.open_task(second, "x", "t5")
        with pytest.raises(RouteError) as err:
            mesh.route("llama3.2")
        assert err.value.code == "mesh_overloaded"
        with pytest.raises(RouteError) as err:
            mesh.route("gpt-5")
        assert err.value.code == "model_not_found" and err.value.status == 404
        for run in (r2, r3, r4, r5):
            await run.aclose()
        assert all(s.current_tasks == 0 for s in mesh.snapshot(include_offline=True))


async def test_count_replicates_workers_with_stable_ids(tmp_path: Path) -> None:
    spec = python_worker("Echo", ECHO, engine="echo", count=1000, max_tasks=4)
    async with running_mesh(tmp_path, spec) as mesh:
        snaps = mesh.snapshot()
        assert len(snaps) == 1000 and len({s.peer_id for s in snaps}) == 1000
        assert snaps[0].name == "Echo #1" and snaps[-1].name == "Echo #1000"
        ids = [s.peer_id for s in snaps]
        assert mesh.snapshot() == snaps  # cached, same content
        assert len(mesh.wire_agents()) == 1000
        assert mesh.route("echo").peer_id in ids
    async with running_mesh(tmp_path, spec) as again:
        assert [s.peer_id for s in again.snapshot()] == ids  # same seed, same ids


async def test_set_online_and_events(tmp_path: Path) -> None:
    async with running_mesh(tmp_path, python_worker("Solo", ECHO, honesty_score=0.9)) as mesh:
        pid = peer(mesh, "Solo")
        async with mesh.events.subscribe() as sub:
            mesh.set_online(pid, False)
            assert mesh.snapshot() == [] and mesh.offline_count == 1
            assert mesh.lookup(pid).online is False  # type: ignore[union-attr]
            with pytest.raises(RouteError):
                mesh.route("Solo")
            mesh.set_online(pid, True)
            async with mesh.open_task(pid, "hi", "ev1") as run:
                assert await run.text() == "hi"
            names = []
            while (ev := await sub.get(timeout=1.0)) is not None:
                names.append((ev.name, ev.data))
                if ev.name == "task_finished":
                    break
        assert names[0] == ("worker_offline", {"peer_id": pid})
        assert names[1] == (
            "worker_online",
            {"peer_id": pid, "agent_name": "Solo", "honesty_score": 0.9},
        )
        assert names[2] == ("task_started", {"peer_id": pid, "task_id": "ev1"})
        finished = names[3][1]
        assert names[3][0] == "task_finished" and finished["status"] == "ok"
        assert finished["duration_s"] >= 0 and finished["task_id"] == "ev1"


async def test_offline_worker_from_config_and_close_ends_subscriptions(tmp_path: Path) -> None:
    spec = python_worker("Sleepy", ECHO, online=False)
    async with running_mesh(tmp_path, spec, python_worker("Up", ECHO)) as mesh:
        assert [s.name for s in mesh.snapshot()] == ["Up"]
        assert [s.name for s in mesh.snapshot(include_offline=True)] == ["Sleepy", "Up"]
        async with mesh.events.subscribe() as sub:
            await mesh.aclose()
            assert [ev async for ev in sub] == []


async def test_gpu_telemetry_from_nvidia_smi_and_ticks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a stand-in nvidia-smi on PATH answering the query the runtime sends (two GPUs)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *--query-gpu=memory.used,memory.total,utilization.gpu*) ;; *) exit 9;; esac\n'
        'echo "2048, 8192, 50"\necho "1024, 8192, 10"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    spec = python_worker("Gpu", ECHO, engine="llama3.2")
    async with running_mesh(tmp_path, spec, telemetry_interval_s=0.05) as mesh:
        wire = mesh.snapshot()[0].to_wire()
        assert wire["has_gpu"] is True
        assert (wire["gpu_used_gb"], wire["gpu_total_gb"], wire["gpu_usage_pct"]) == (
            3.0,
            16.0,
            30.0,
        )
        assert wire["hardware"] == "llama3.2 (GPU VRAM: 3.0/16.0 GB)"
        version = mesh.version
        for _ in range(100):
            await asyncio.sleep(0.05)
            if mesh.version > version:
                break
        assert mesh.version > version  # telemetry ticks refresh the snapshots
        assert 0.0 <= mesh.snapshot()[0].cpu_usage_pct <= 100.0


def test_parse_nvidia_smi() -> None:
    from agentfm_nb.mesh.telemetry import parse_nvidia_smi

    assert parse_nvidia_smi("") is None
    assert parse_nvidia_smi("[N/A], [N/A], [N/A]\n") is None
    assert parse_nvidia_smi("512, 1024, 100\n") == (0.5, 1.0, 100.0)
