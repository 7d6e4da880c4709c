"""pytest-httpx intercepts every request of both twins, the async ``/api/execute`` hot path too."""

from __future__ import annotations

import httpx
from pytest_httpx import HTTPXMock

import agentfm_nb

G = "http://g"
PEER = "12D3KooWX"


async def test_async_run_stream_and_scatter(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST",
        url=f"{G}/api/execute",
        content=b"ok\n\n[AGENTFM: NO_FILES]\n",
        is_reusable=True,
    )
    async with agentfm_nb.AsyncAgentFMClient(G, api_key=None) as c:
        assert (await c.tasks.run(worker_id=PEER, prompt="p")).text == "ok\n\n"
        assert [ch.text async for ch in c.tasks.stream(worker_id=PEER, prompt="p")] == ["ok\n\n"]
        rows = await c.tasks.scatter(["a", "b"], peer_ids=[PEER])
    assert [r.text for r in rows] == ["ok\n\n", "ok\n\n"]
    assert len(httpx_mock.get_requests()) == 4


def test_sync_scatter_and_injected_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", url=f"{G}/api/workers", json={"agents": []})
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=f"{G}/api/execute")
    with agentfm_nb.AgentFMClient(G, retries=0, api_key=None) as c:
        assert c.workers.list() == []
        rows = c.tasks.scatter(["a"], peer_ids=[PEER], max_retries=0)
    assert rows[0].status == "failed"
    assert rows[0].error_type == "GatewayConnectionError"
