"""Bad input over real sockets: each gets its clear error and costs nothing.

The status codes and messages themselves are pinned by ``test_http_api.py`` / ``test_http_auth.py``;
these cases use other malformed inputs and check what a refusal must not do: start a task, write
an artifact, leak the key, or leave the gateway unable to serve the next good request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentfm_nb.gateway import LocalMeshGateway

CAP = 1 << 20  # the gateway's request body cap


def counters(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in ("agentfm_tasks_total", "agentfm_auth_attempts_total"):
                label = sample.labels.get("status") or sample.labels.get("outcome")
                out[f"{sample.name}:{label}"] = sample.value
    return out


async def task_counts(http: httpx.AsyncClient) -> tuple[float, float]:
    c = counters((await http.get("/metrics")).text)
    return c.get("agentfm_tasks_total:ok", 0.0), c.get("agentfm_tasks_total:error", 0.0)


async def tasks_run(http: httpx.AsyncClient) -> float:
    """Tasks that ran to the end (a refusal may count as an error, as the real boss counts it)."""
    return (await task_counts(http))[0]


async def echo_peer(http: httpx.AsyncClient) -> str:
    agents = (await http.get("/api/workers")).json()["agents"]
    return str(next(a["peer_id"] for a in agents if a["name"] == "Echo"))


async def still_serves(http: httpx.AsyncClient, peer: str) -> None:
    """A good request right after the bad one works end to end."""
    resp = await http.post("/api/execute", json={"worker_id": peer, "prompt": "still here"})
    assert resp.status_code == 200
    assert resp.text.splitlines()[0] == "still here"


@pytest.fixture
async def http(gateway: LocalMeshGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=20) as client:
        yield client


@pytest.mark.parametrize(
    "raw",
    [b"", b'"just a string"', b"null", b"\xff\xfe\x00garbage", b'{"worker_id": '],
)
async def test_malformed_json_is_refused_and_runs_nothing(
    http: httpx.AsyncClient, gateway: LocalMeshGateway, raw: bytes
) -> None:
    before = await task_counts(http)
    # encoding/json reads null as an empty request (api_handlers.go:handleExecuteTask)
    want = "worker_id is required" if raw == b"null" else "Invalid JSON payload"
    for route in ("/api/execute", "/api/execute/async"):
        resp = await http.post(route, content=raw, headers={"content-type": "application/json"})
        assert resp.status_code == 400, route
        assert resp.text.strip() == want
    resp = await http.post("/v1/chat/completions", content=raw)
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert await tasks_run(http) == before[0]
    await still_serves(http, await echo_peer(http))


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield b'{"worker_id": "x", "prompt": "'
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"}'


async def test_streamed_body_over_the_cap_is_refused(http: httpx.AsyncClient) -> None:
    """No Content-Length (chunked upload): the cap must hold while the body streams in."""
    peer = await echo_peer(http)
    before = await task_counts(http)
    for route in ("/api/execute", "/api/execute/async", "/v1/chat/completions"):
        resp = await http.post(route, content=_chunks(CAP + 1))
        # the real boss reads 1 MiB and fails on the cut JSON (400); 413 where we say so
        assert resp.status_code in (400, 413), (route, resp.status_code)
        assert "aaaa" not in resp.text
    assert await tasks_run(http) == before[0]
    # Half the cap still goes through, whole.
    resp = await http.post("/api/execute", json={"worker_id": peer, "prompt": "b" * (CAP // 2)})
    assert resp.status_code == 200
    assert resp.text.splitlines()[0] == "b" * (CAP // 2)


@pytest.mark.parametrize(
    "task_id",
    ["-starts-with-dash", "has space", "slash/inside", ".hidden", "..", "a\nb", ["x"], 1.5],
)
async def test_invalid_task_id_writes_nothing(
    http: httpx.AsyncClient, gateway: LocalMeshGateway, task_id: object
) -> None:
    peer = await echo_peer(http)
    before = await task_counts(http)
    listing = _tree(gateway.artifacts_dir.parent)
    body = {"worker_id": peer, "prompt": "hi", "task_id": task_id}
    resp = await http.post("/api/execute", json=body)
    assert resp.status_code == 400
    # a task_id that is not a string fails decoding itself, as in encoding/json
    want = "Invalid task_id format" if isinstance(task_id, str) else "Invalid JSON payload"
    assert resp.text.strip() == want
    assert await tasks_run(http) == before[0]
    assert _tree(gateway.artifacts_dir.parent) == listing
    await still_serves(http, peer)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(
    "worker_id",
    [
        "12D3KooW",
        "12D3KooWshort0IOl",  # base58 excludes 0, I, O and l
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N" + "x" * 200,
        " 12D3KooW",
        "{echo} ",  # a real peer id with trailing whitespace is malformed, not unknown
        "{echo}\n",
    ],
)
async def test_malformed_peer_id(http: httpx.AsyncClient, worker_id: str) -> None:
    worker_id = worker_id.replace("{echo}", await echo_peer(http))
    before = await task_counts(http)
    for route in ("/api/execute", "/api/execute/async"):
        resp = await http.post(route, json={"worker_id": worker_id, "prompt": "hi"})
        # the real boss looks the id up before parsing it: malformed is not found
        assert resp.status_code == 404, route
        assert resp.text.strip() == "Worker not found or offline"
    assert await tasks_run(http) == before[0]


async def test_wrong_or_missing_key(
    start_gateway: Callable[..., LocalMeshGateway], api_key: str
) -> None:
    gw = start_gateway(api_keys=[api_key, "second-key-for-rotation-0001"])
    wrong = "x" * 32
    async with httpx.AsyncClient(base_url=gw.url, timeout=20) as http:
        assert (await http.get("/health")).status_code == 200  # exempt
        before = await task_counts(http)  # /metrics is exempt too
        good = {"Authorization": f"Bearer {api_key}"}
        agents = (await http.get("/api/workers", headers=good)).json()["agents"]
        peer = next(a["peer_id"] for a in agents if a["name"] == "Echo")
        task = {"worker_id": peer, "prompt": "must not run"}
        for headers in ({}, {"Authorization": f"Bearer {wrong}"}, {"Authorization": api_key}):
            for route in ("/api/execute", "/api/execute/async", "/v1/completions"):
                body = {"model": peer, "prompt": "must not run"} if "v1" in route else task
                resp = await http.post(route, headers=headers, json=body)
                assert resp.status_code == 401, (route, headers)
                assert api_key not in resp.text
        await asyncio.sleep(0.2)  # an async task, had one slipped through, would have finished
        assert await tasks_run(http) == before[0]
        # The second key works, and the refused requests left nothing behind.
        other = {"Authorization": "Bearer second-key-for-rotation-0001"}
        body = {"worker_id": peer, "prompt": "ok"}
        resp = await http.post("/api/execute", headers=other, json=body)
        assert resp.status_code == 200
        ok, err = await task_counts(http)
        assert (ok, err) == (before[0] + 1, before[1])
        assert api_key not in (await http.get("/metrics")).text
    assert api_key not in gw.log_tail(1000)


async def test_concurrent_garbage_does_not_disturb_a_stream(http: httpx.AsyncClient) -> None:
    """A flood of refused requests while a real stream runs: the stream is intact."""
    agents = (await http.get("/api/workers")).json()["agents"]
    poet = next(a["peer_id"] for a in agents if a["name"] == "Poet")

    async def garbage(i: int) -> int:
        raw = [b"{", b"[]", b'{"worker_id": "nope", "prompt": "x"}'][i % 3]
        return (await http.post("/api/execute", content=raw)).status_code

    body = {"worker_id": poet, "prompt": "x"}
    stream = asyncio.ensure_future(http.post("/api/execute", json=body))
    codes = await asyncio.gather(*(garbage(i) for i in range(60)))
    assert set(codes) == {400, 404}  # bad JSON; an unknown worker
    resp = await stream
    assert resp.status_code == 200
    lines = resp.text.splitlines()
    assert len(lines) >= 3 and lines[-2:] == ["", "[AGENTFM: NO_FILES]"]
