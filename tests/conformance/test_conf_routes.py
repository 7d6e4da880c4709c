"""Rows 1-12: routes and methods, as ``boss/api.go:StartAPIServer``'s ServeMux answers them."""

from __future__ import annotations

import httpx
import pytest

from tests.conformance.conftest import Conformance

TEXT = "text/plain; charset=utf-8"


def _plain(r: httpx.Response, status: int, text: str) -> None:
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"] == TEXT
    assert r.headers["x-content-type-options"] == "nosniff"


def test_row01_core_routes(client: httpx.Client, conf: Conformance) -> None:
    """api.go:StartAPIServer registers the core routes."""
    assert client.get("/api/workers").json()["success"] is True
    assert client.get("/v1/about").status_code == 200
    assert client.get("/v1/models").json()["object"] == "list"
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/metrics").status_code == 200
    assert client.get(f"/v1/peers/{conf.peers['Echo']}").status_code == 200
    with client.stream("GET", "/v1/events") as r:
        assert r.status_code == 200
        assert next(r.iter_bytes()).startswith(b":ready")
    body = {"worker_id": conf.peers["Echo"], "prompt": "hi"}
    assert client.post("/api/execute", json=body).status_code == 200
    assert client.post("/api/execute/async", json=body).status_code == 202
    chat = {"model": "Echo", "messages": [{"role": "user", "content": "x"}]}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200
    assert client.post("/v1/completions", json={"model": "Echo", "prompt": "x"}).status_code == 200


def test_row02_relay_test(client: httpx.Client) -> None:
    """api_relay.go:handleRelayTest: POST only, JSON {ok, peer_id, error}; no libp2p host here
    answers as a boss whose host is not initialised (documented in docs/compatibility.md)."""
    r = client.get("/api/relay/test")
    assert r.status_code == 405
    assert r.json() == {"ok": False, "error": "POST only"}
    r = client.post("/api/relay/test", content=b"{not json")
    assert r.status_code == 400
    assert r.json()["ok"] is False
    assert r.json()["error"].startswith("invalid JSON: ")
    r = client.post("/api/relay/test", json={"multiaddr": "  "})
    required = {"ok": False, "error": "field 'multiaddr' is required"}
    assert (r.status_code, r.json()) == (400, required)
    addr = "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWJAUUExU7uDkFKjxfxHAnMS4aemi22aScSdTa7WJANq3a"
    r = client.post("/api/relay/test", json={"multiaddr": addr})
    assert (r.status_code, r.json()) == (503, {"ok": False, "error": "boss host not initialized"})


def test_row03_ui_peer_page(client: httpx.Client, conf: Conformance) -> None:
    """ui/server.go:Handler: HTML on GET /ui/peer/*, no-store, nosniff, no auth; GET only."""
    r = client.get(f"/ui/peer/{conf.peers['Echo']}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in r.headers
    assert "<html" in r.text
    _plain(client.post("/ui/peer/x"), 405, "only GET\n")
    r = client.get("/ui/peer", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/ui/peer/")


@pytest.mark.parametrize(
    ("path", "go"),
    [
        ("/v1/peers/{peer}/proof", "handleProof"),
        ("/v1/peers/{peer}/comments", "handleCommentSubmission"),
        ("/v1/peers/{peer}/comments/self", "handleSelfComment"),
        ("/v1/peers/{peer}/comments/bafyabc", "handleCommentBodyGet"),
        ("/v1/peers/{peer}/comments/bafyabc.json", "handleCommentBodyGetJSON"),
    ],
)
def test_row04_ledger_routes(client: httpx.Client, conf: Conformance, path: str, go: str) -> None:
    """api_reputation.go:handlePeers -> handleProof / api_comments.go: the routes exist; with no
    ledger they answer the real boss's empty-ledger or "not wired" errors."""
    url = path.format(peer=conf.peers["Echo"])
    if go == "handleProof":
        r = client.get(url)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_request")
        assert r.json()["error"]["message"] == "missing entry query parameter"
        r = client.get(url, params={"entry": "zz"})
        assert r.json()["error"]["message"] == "entry must be a 64-char hex string"
        r = client.get(url, params={"entry": "ab" * 32})
        assert (r.status_code, r.json()["error"]["code"]) == (404, "entry_not_found")
        assert client.post(url).json()["error"]["message"] == "only GET supported"
    elif go in ("handleCommentSubmission", "handleSelfComment"):
        r = client.post(url, json={})
        assert r.status_code == 503
        assert r.json() == {
            "error": {
                "message": "ledger not wired on this boss",
                "type": "server_error",
                "code": "ledger_unavailable",
            }
        }
        r = client.get(url)
        assert (r.status_code, r.json()["error"]["message"]) == (405, "only POST supported")
    else:
        r = client.get(url)
        assert (r.status_code, r.json()["error"]["code"]) == (503, "comments_unavailable")
        assert r.json()["error"]["type"] == "server_error"
        r = client.post(url)
        assert (r.status_code, r.json()["error"]["message"]) == (405, "only GET supported")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/workers"),
        ("GET", "/api/execute"),
        ("DELETE", "/api/execute/async"),
        ("POST", "/health"),
        ("POST", "/v1/about"),
        ("POST", "/v1/events"),
    ],
)
def test_row05_wrong_method_plain_text(client: httpx.Client, method: str, path: str) -> None:
    """api_handlers.go:handleGetWorkers / handleExecuteTask, api_async.go, api.go:handleHealth,
    api_about.go:handleAbout, api_events.go:handleEvents: http.Error 405 `Method not allowed`."""
    _plain(client.request(method, path), 405, "Method not allowed\n")


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("POST", "/v1/models", "GET only"),
        ("GET", "/v1/chat/completions", "POST only"),
        ("GET", "/v1/completions", "POST only"),
        ("POST", "/v1/peers/{peer}", "only GET supported"),
        ("DELETE", "/v1/peers/{peer}/reputation", "only GET supported"),
        ("POST", "/v1/peers/{peer}/log", "only GET supported"),
    ],
)
def test_row06_wrong_method_envelope(
    client: httpx.Client, conf: Conformance, method: str, path: str, message: str
) -> None:
    """openai_models.go:handleModels, openai_chat.go:handleChatCompletions,
    openai_completions.go:handleCompletions, api_reputation.go:handlePeerGet/handleReputation/
    handleLog: 405 envelope method_not_allowed with the handler's own message."""
    r = client.request(method, path.format(peer=conf.peers["Echo"]))
    assert r.status_code == 405
    assert r.json() == {
        "error": {"message": message, "type": "invalid_request_error", "code": "method_not_allowed"}
    }


@pytest.mark.parametrize("path", ["/api/workers", "/health", "/v1/about"])
def test_row07_head_is_not_get(client: httpx.Client, path: str) -> None:
    """api_handlers.go:handleGetWorkers, api.go:handleHealth: the handlers take GET only."""
    r = client.head(path)
    assert r.status_code == 405
    assert r.content == b""


@pytest.mark.parametrize("path", ["/nope", "/api", "/v1", "/v1/models/x", "/api/execute/x"])
def test_row08_unknown_path(client: httpx.Client, path: str) -> None:
    """api.go:StartAPIServer: ServeMux's NotFound, text, before any auth or CORS."""
    r = client.get(path)
    _plain(r, 404, "404 page not found\n")
    assert "access-control-allow-origin" not in r.headers


def test_row09_trailing_slash_is_another_path(client: httpx.Client) -> None:
    """api.go:StartAPIServer: exact ServeMux patterns; /api/workers/ matches nothing."""
    r = client.get("/api/workers/", follow_redirects=False)
    _plain(r, 404, "404 page not found\n")
    r = client.get("/health/", follow_redirects=False)
    assert r.status_code == 404


def test_row10_peers_subtree_redirect(client: httpx.Client) -> None:
    """api.go:StartAPIServer: "/v1/peers/" is a subtree pattern, so ServeMux redirects
    /v1/peers (query kept) with 301; unclean paths are redirected to their clean form."""
    r = client.get("/v1/peers", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/v1/peers/")
    assert r.text == '<a href="/v1/peers/">Moved Permanently</a>.\n\n'
    r = client.post("/v1/peers?a=1", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/v1/peers/?a=1")
    r = client.get("/api//workers", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (301, "/api/workers")


def test_row11_peers_unknown_sub_resource(client: httpx.Client, conf: Conformance) -> None:
    """api_reputation.go:handlePeers: 404 envelope not_found `unknown peers sub-resource`."""
    for path in ("/v1/peers/", f"/v1/peers/{conf.peers['Echo']}/foo"):
        r = client.get(path)
        assert r.status_code == 404
        assert r.json() == {
            "error": {
                "message": "unknown peers sub-resource",
                "type": "invalid_request_error",
                "code": "not_found",
            }
        }


def test_row12_metrics_any_method(client: httpx.Client) -> None:
    """metrics.go:Handler (promhttp): any method scrapes."""
    for method in ("GET", "POST", "PUT"):
        r = client.request(method, "/metrics")
        assert r.status_code == 200
        assert "agentfm_tasks_total" in r.text
