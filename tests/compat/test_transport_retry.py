"""Transport, as agentfm-sdk 0.3.0: retry policy, Retry-After, error classes, bad URLs.

Each fact is checked on our client and, where the SDK states it too, on the SDK itself with the
same respx mock, so the SDK is the oracle.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from agentfm import AgentFMClient as SdkClient

import agentfm_nb
from agentfm_nb.client import _retry

G = "http://g"
EMPTY = {"success": True, "agents": []}
PEER = "12D3KooWQLXSUaBdL1pXAGb7hbAwwcC4FDqAHjMu2TwCQ8WWZ5rS"  # a real-shaped id: no warning


def _env(code: str, message: str = "m") -> dict[str, Any]:
    return {"error": {"message": message, "type": "x", "code": code}}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_retry, "BACKOFF_BASE_S", 0.001)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=G, assert_all_called=False) as r:
        yield r


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(router: respx.MockRouter, status: int) -> None:
    route = router.get("/api/workers")
    for client_cls in (agentfm_nb.AgentFMClient, SdkClient):
        route.reset()
        route.side_effect = [
            httpx.Response(status, json=_env("y")),
            httpx.Response(200, json=EMPTY),
        ]
        with client_cls(G, retries=2, api_key=None) as c:
            assert c.workers.list() == []
        assert route.call_count == 2, client_cls


async def test_async_twin_retries_and_connection_errors(router: respx.MockRouter) -> None:
    route = router.get("/api/workers")
    route.side_effect = [
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("closed"),
        httpx.Response(200, json=EMPTY),
    ]
    async with agentfm_nb.AsyncAgentFMClient(G, retries=2, api_key=None) as c:
        assert await c.workers.list() == []
    assert route.call_count == 3


def test_other_4xx_is_not_retried(router: respx.MockRouter) -> None:
    route = router.post("/v1/chat/completions").respond(400, json=_env("model_required"))
    with (
        agentfm_nb.AgentFMClient(G, retries=3, api_key=None) as c,
        pytest.raises(agentfm_nb.InvalidRequestError),
    ):
        c.openai.chat.completions.create(model=PEER, messages=[{"role": "user", "content": "hi"}])
    assert route.call_count == 1


def test_retry_after_is_honoured_and_capped(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    route = router.get("/api/workers")
    route.side_effect = [
        httpx.Response(503, json=_env("mesh_overloaded"), headers={"Retry-After": "2"}),
        httpx.Response(429, json=_env("rate_limited"), headers={"Retry-After": "3600"}),
        httpx.Response(200, json=EMPTY),
    ]
    with agentfm_nb.AgentFMClient(G, retries=2, api_key=None) as c:
        assert c.workers.list() == []
    assert slept == [2.0, _retry.RETRY_AFTER_CAP_S]


def test_plain_text_5xx_ends_as_protocol_error(router: respx.MockRouter) -> None:
    route = router.get("/api/workers").respond(500, text="upstream broke")
    for client_cls in (agentfm_nb.AgentFMClient, SdkClient):
        route.reset()
        with client_cls(G, retries=1, api_key=None) as c, pytest.raises(Exception) as err:
            c.workers.list()
        assert type(err.value).__name__ == "GatewayProtocolError", client_cls
        assert route.call_count == 2


def test_unknown_code_is_exactly_agentfm_error(router: respx.MockRouter) -> None:
    router.get("/api/workers").respond(418, json=_env("brand_new_code", "teapot"))
    with (
        agentfm_nb.AgentFMClient(G, retries=0, api_key=None) as c,
        pytest.raises(agentfm_nb.AgentFMError) as err,
    ):
        c.workers.list()
    assert type(err.value) is agentfm_nb.AgentFMError
    assert (err.value.code, err.value.status, err.value.message) == (
        "brand_new_code",
        418,
        "teapot",
    )


def test_persistent_503_envelope_is_mesh_overloaded(router: respx.MockRouter) -> None:
    route = router.post("/v1/chat/completions").respond(503, json=_env("mesh_overloaded"))
    with (
        agentfm_nb.AgentFMClient(G, retries=2, api_key=None) as c,
        pytest.raises(agentfm_nb.MeshOverloadedError),
    ):
        c.openai.chat.completions.create(model=PEER, messages=[{"role": "user", "content": "x"}])
    assert route.call_count == 3


@pytest.mark.parametrize("url", ["ftp://nope/", "nope"])
def test_bad_scheme_constructs_and_first_request_says_so(url: str) -> None:
    with agentfm_nb.AgentFMClient(url, retries=3, api_key=None) as c:  # constructs, as the SDK
        with pytest.raises(agentfm_nb.InvalidRequestError) as err:
            c.workers.list()
        assert err.value.code == "invalid_gateway_url"
        with pytest.raises(agentfm_nb.InvalidRequestError) as serr:
            list(c.tasks.stream(worker_id="12D3KooWX", prompt="p"))
        assert serr.value.code == "invalid_gateway_url"


async def test_bad_scheme_on_the_async_hot_path() -> None:
    async with agentfm_nb.AsyncAgentFMClient("ftp://nope/", api_key=None) as c:
        with pytest.raises(agentfm_nb.InvalidRequestError) as err:
            await c.tasks.run(worker_id="12D3KooWX", prompt="p")
    assert err.value.code == "invalid_gateway_url"


def test_unparseable_url_is_a_typed_error() -> None:
    with pytest.raises(agentfm_nb.InvalidRequestError) as err:
        agentfm_nb.AgentFMClient("http://[::1", api_key=None)
    assert err.value.code == "invalid_gateway_url"
