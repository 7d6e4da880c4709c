"""``/api/workers`` bodies built from per-worker fragments equal encoding the whole listing."""

from __future__ import annotations

from pathlib import Path

import orjson
from _runtime_support import python_worker, running_mesh


async def test_incremental_body_equals_a_full_encoding_through_changes(tmp_path: Path) -> None:
    spec = python_worker("Echo", "agentfm_nb.mesh.demo:echo", count=5, max_tasks=1)
    async with running_mesh(tmp_path, spec) as mesh:

        def full(include_offline: bool) -> bytes:
            body = {
                "success": True,
                "online_count": mesh.online_count,
                # the real gateway counts offline peers only when it lists them
                "offline_count": mesh.offline_count if include_offline else 0,
                "agents": mesh.wire_agents(include_offline),
            }
            return orjson.dumps(body)

        def check() -> None:
            for include_offline in (False, True):
                assert mesh.workers_json(include_offline) == full(include_offline)

        peers = [snap.peer_id for snap in mesh.snapshot()]
        check()
        run = mesh.open_task(peers[1], "x", "t1")  # one worker busy
        check()
        assert orjson.loads(mesh.workers_json())["agents"][1]["current_tasks"] == 1
        mesh.set_online(peers[3], False)  # one offline: listed only with include_offline
        check()
        assert len(orjson.loads(mesh.workers_json())["agents"]) == 4
        await run.abort("done")
        mesh.set_online(peers[3], True)
        check()
        assert orjson.loads(mesh.workers_json())["agents"][1]["current_tasks"] == 0
