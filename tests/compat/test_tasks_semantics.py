"""``tasks.run`` / ``tasks.stream`` as agentfm-sdk 0.3.0 defines them, against the SDK itself.

The same mocked body goes to both clients and what comes out is compared; the opt-in extras
(``raise_on_agent_error``) and the artifact timing rule are checked on their own.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from agentfm import AgentFMClient as SdkClient
from agentfm import AsyncAgentFMClient as SdkAsyncClient

import agentfm_nb
from agentfm_nb.client.models import TaskChunk

G = "http://g"
PEER = "12D3KooWX"
CAPACITY = "\u274c ERROR: Worker is at max capacity (2/2). Try another worker.\n"
SANDBOX = "Traceback\nValueError: bad input\n\u26a0\ufe0f  Sandbox exited: exit status 1\n"
BODIES = [
    "hello\nworld\n\n[AGENTFM: NO_FILES]\n",
    "files\n\n[AGENTFM: FILES_INCOMING]\n",
    CAPACITY,  # the real worker's refusal: no sentinel
    SANDBOX + "\n[AGENTFM: NO_FILES]\n",
    "ok\n\u274c ERROR: agent exited with code 2: boom\n[AGENTFM: NO_FILES]\n",
    "no newline at the end",
    "  [AGENTFM: NO_FILES]\nindented sentinel dropped\n",
]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=G, assert_all_called=False) as r:
        yield r


def _chunks(client: Any) -> list[tuple[str, str]]:
    return [(c.kind, c.text) for c in client.tasks.stream(worker_id=PEER, prompt="p")]


@pytest.mark.parametrize("body", BODIES)
def test_run_and_stream_match_the_sdk(router: respx.MockRouter, body: str) -> None:
    router.post("/api/execute").respond(200, content=body.encode())
    with agentfm_nb.AgentFMClient(G, api_key=None) as ours, SdkClient(G, api_key=None) as sdk:
        assert (
            ours.tasks.run(worker_id=PEER, prompt="p").text
            == sdk.tasks.run(worker_id=PEER, prompt="p").text
        )
        mine, theirs = _chunks(ours), _chunks(sdk)

    # same text and the same markers; we pass text on per read, the SDK per line
    def text(chunks: list[tuple[str, str]]) -> str:
        return "".join(t for k, t in chunks if k == "text")

    assert text(mine) == text(theirs)
    assert [c for c in mine if c[0] == "marker"] == [c for c in theirs if c[0] == "marker"]
    assert not any("[AGENTFM:" in t for _, t in mine)
    if "FILES_INCOMING" in body:
        assert mine[-1] == ("marker", "")


async def test_async_twin_matches_the_sdk(router: respx.MockRouter) -> None:
    for body in BODIES:
        router.post("/api/execute").respond(200, content=body.encode())
        async with (
            agentfm_nb.AsyncAgentFMClient(G, api_key=None) as ours,
            SdkAsyncClient(G, api_key=None) as sdk,
        ):
            a = await ours.tasks.run(worker_id=PEER, prompt="p")
            b = await sdk.tasks.run(worker_id=PEER, prompt="p")
            assert a.text == b.text
            kinds = [c async for c in ours.tasks.stream(worker_id=PEER, prompt="p")]
            assert [c for c in kinds if c.kind == "marker"] == (
                [TaskChunk(text="", kind="marker")] if "FILES_INCOMING" in body else []
            )


def test_agent_errors_raise_only_when_asked(router: respx.MockRouter) -> None:
    with agentfm_nb.AgentFMClient(G, api_key=None) as c:
        for body, error in [
            (SANDBOX, agentfm_nb.TaskExecutionError),
            (BODIES[4], agentfm_nb.TaskExecutionError),
            (CAPACITY, agentfm_nb.MeshOverloadedError),
        ]:
            router.post("/api/execute").respond(200, content=body.encode())
            assert c.tasks.run(worker_id=PEER, prompt="p").text == body.split("\n[AGENTFM")[0] + (
                "\n" if "[AGENTFM" in body else ""
            )
            with pytest.raises(error) as err:
                c.tasks.run(worker_id=PEER, prompt="p", raise_on_agent_error=True)
            if error is agentfm_nb.TaskExecutionError:
                assert "bad input" in err.value.message or "boom" in err.value.message


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("o.txt", "out")


def test_zip_after_no_files_is_harvested_without_waiting(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    task_id = "task_present"
    _zip(tmp_path / f"{task_id}.zip")
    router.post("/api/execute").respond(200, content=b"ok\n[AGENTFM: NO_FILES]\n")
    with agentfm_nb.AgentFMClient(G, artifacts_dir=tmp_path, api_key=None) as c:
        got = c.tasks.run(worker_id=PEER, prompt="p", task_id=task_id)
        assert [p.name for p in got.artifacts] == ["o.txt"]
        started = time.monotonic()
        none = c.tasks.run(worker_id=PEER, prompt="p", artifact_timeout=30)
        assert none.artifacts == []
        assert time.monotonic() - started < 10  # looked once, did not wait the 30 s


def test_files_incoming_waits_for_the_zip(router: respx.MockRouter, tmp_path: Path) -> None:
    import threading

    task_id = "task_late"
    router.post("/api/execute").respond(200, content=b"x\n[AGENTFM: FILES_INCOMING]\n")
    timer = threading.Timer(0.3, _zip, args=(tmp_path / f"{task_id}.zip",))
    timer.start()
    try:
        with agentfm_nb.AgentFMClient(G, artifacts_dir=tmp_path, api_key=None) as c:
            got = c.tasks.run(worker_id=PEER, prompt="p", task_id=task_id, artifact_timeout=30)
    finally:
        timer.join()
    assert [p.name for p in got.artifacts] == ["o.txt"]


def test_sdk_scatter_contract_on_errors(router: respx.MockRouter) -> None:
    """A 5xx, a dropped stream and a patched ``run`` all become ``failed`` rows in order."""

    def respond(request: httpx.Request) -> httpx.Response:
        prompt = request.content.decode()
        if '"doomed"' in prompt:
            raise httpx.RemoteProtocolError("connection closed mid-stream")
        return httpx.Response(200, content=b"ok\n")

    router.post("/api/execute").mock(side_effect=respond)
    with agentfm_nb.AgentFMClient(G, retries=0, api_key=None) as c:
        rows = c.tasks.scatter(["a", "doomed", "c"], peer_ids=[PEER], max_retries=0)
        assert [r.status for r in rows] == ["success", "failed", "success"]
        assert "worker stream failed" in (rows[1].error or "")

        def boom(**kwargs: object) -> object:
            raise OSError("simulated artifact harvest failure")

        c.tasks.run = boom  # type: ignore[method-assign]
        rows = c.tasks.scatter(["p1", "p2"], peer_ids=[PEER], max_retries=0)
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all("simulated artifact harvest failure" in (r.error or "") for r in rows)
