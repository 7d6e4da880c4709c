"""respx (default mode and ``using="httpx"``) sees every request, the async hot path included.

Every injected httpx exception comes out as the SDK's typed error. pytest-httpx has its own
module (its fixture insists every registered response is used).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx

import agentfm_nb

G = "http://g"
PEER = "12D3KooWX"
OK = b"hello\n\n[AGENTFM: NO_FILES]\n"


@pytest.fixture(params=["httpcore", "httpx"])
def router(request: pytest.FixtureRequest) -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=G, using=request.param, assert_all_called=False) as r:
        yield r


def test_sync_calls_are_seen(router: respx.MockRouter) -> None:
    workers = router.get("/api/workers").respond(json={"success": True, "agents": []})
    execute = router.post("/api/execute").respond(200, content=OK)
    with agentfm_nb.AgentFMClient(G, api_key=None) as c:
        assert c.workers.list() == []
        assert c.tasks.run(worker_id=PEER, prompt="p").text == "hello\n\n"
        rows = c.tasks.scatter(["a", "b", "c"], peer_ids=[PEER])
    assert [r.status for r in rows] == ["success"] * 3
    assert workers.call_count == 1
    assert execute.call_count == 4  # scatter sent only POST /api/execute


async def test_async_hot_path_is_seen(router: respx.MockRouter) -> None:
    seen: list[dict[str, str]] = []

    def echo(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx.Response(200, content=f"echo:{body['prompt']}\n".encode())

    router.post("/api/execute").mock(side_effect=echo)
    async with agentfm_nb.AsyncAgentFMClient(G, api_key="k" * 32) as c:
        assert (await c.tasks.run(worker_id=PEER, prompt="x")).text == "echo:x\n"
        chunks = [ch async for ch in c.tasks.stream(worker_id=PEER, prompt="y")]
        rows = await c.tasks.scatter([f"p{i}" for i in range(6)], peer_ids=["12D3KooWA", PEER])
    assert "".join(ch.text for ch in chunks) == "echo:y\n"
    assert [r.text for r in rows] == [f"echo:p{i}\n" for i in range(6)]
    assert len(seen) == 8
    assert router.calls.last.request.headers["authorization"] == "Bearer " + "k" * 32


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), "GatewayConnectionError"),
        (httpx.RemoteProtocolError("closed mid-stream"), "WorkerStreamError"),
        (httpx.ReadError("reset"), "WorkerStreamError"),
        (httpx.ReadTimeout("slow"), "WorkerStreamError"),
    ],
)
async def test_injected_errors_are_typed_on_every_path(
    router: respx.MockRouter, exc: Exception, expected: str
) -> None:
    router.post("/api/execute").mock(side_effect=exc)
    router.post("/v1/chat/completions").mock(side_effect=exc)
    async with agentfm_nb.AsyncAgentFMClient(G, retries=0, api_key=None) as ac:
        with pytest.raises(agentfm_nb.AgentFMError) as a:
            await ac.tasks.run(worker_id=PEER, prompt="p")
        assert type(a.value).__name__ == expected
        with pytest.raises(agentfm_nb.AgentFMError) as o:
            stream = await ac.openai.chat.completions.create(
                model=PEER, messages=[{"role": "user", "content": "x"}], stream=True
            )
            async for _ in stream:
                pass
        assert type(o.value).__name__ == expected
    with agentfm_nb.AgentFMClient(G, retries=0, api_key=None) as c:
        with pytest.raises(agentfm_nb.AgentFMError) as s:
            list(c.tasks.stream(worker_id=PEER, prompt="p"))
        assert type(s.value).__name__ == expected
        rows = c.tasks.scatter(["p"], peer_ids=[PEER], max_retries=0)
        assert rows[0].status == "failed"  # never an exception out of the batch


def test_mid_body_failure_is_a_stream_error(router: respx.MockRouter) -> None:
    class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"part one\n"
            raise httpx.ReadError("connection reset")

        async def __aiter__(self):  # type: ignore[no-untyped-def]
            yield b"part one\n"
            raise httpx.ReadError("connection reset")

    router.post("/api/execute").mock(return_value=httpx.Response(200, stream=Broken()))
    with agentfm_nb.AgentFMClient(G, retries=0, api_key=None) as c:
        got: list[str] = []
        with pytest.raises(agentfm_nb.WorkerStreamError):
            for chunk in c.tasks.stream(worker_id=PEER, prompt="p"):
                got.append(chunk.text)
        assert got == ["part one\n"]


def test_a_swapped_transport_is_used_by_the_hot_path() -> None:
    hits: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hits.append(request.url.path)
        return httpx.Response(200, content=OK)

    async def go() -> str:
        async with agentfm_nb.AsyncAgentFMClient(G, api_key=None) as c:
            c._http._mounts = {
                httpx._utils.URLPattern("http://g"): httpx.MockTransport(handler)  # a user mount
            }
            return (await c.tasks.run(worker_id=PEER, prompt="p")).text

    import asyncio

    assert asyncio.run(go()) == "hello\n\n"
    assert hits == ["/api/execute"]
