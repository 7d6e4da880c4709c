"""``/health``, ``/metrics``, ``/v1/about`` and the read-only ``/v1/peers/{id}`` routes."""

from __future__ import annotations

from typing import Any

import httpx

from agentfm_nb.mesh.peerid import is_valid_peer_id, new_identity


def test_health_and_about(gateway: Any) -> None:
    health = httpx.get(f"{gateway.url}/health").json()
    workers = httpx.get(f"{gateway.url}/api/workers").json()
    assert health == {"status": "ok", "online_workers": workers["online_count"]}
    about = httpx.get(f"{gateway.url}/v1/about").json()
    assert set(about) >= {
        "boss_peer_id", "relay_peer_id", "relay_multiaddr", "reputation_floor",
        "ledger_tree_size", "version", "uptime_seconds",
    }  # fmt: skip
    assert is_valid_peer_id(about["boss_peer_id"])
    assert isinstance(about["uptime_seconds"], int)  # whole seconds, as the real gateway
    assert about["uptime_seconds"] >= 0


def test_metrics_are_prometheus_text(gateway: Any) -> None:
    r = httpx.get(f"{gateway.url}/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    for name in (
        "agentfm_tasks_total",
        "agentfm_stream_errors_total",
        "agentfm_artifacts_built_total",
        "agentfm_auth_attempts_total",
    ):
        assert f"# TYPE {name} counter" in r.text
        assert name in r.text


def test_peer_routes(gateway: Any) -> None:
    agent = httpx.get(f"{gateway.url}/api/workers").json()["agents"][0]
    peer = agent["peer_id"]
    body = httpx.get(f"{gateway.url}/v1/peers/{peer}").json()
    assert body["peer_id"] == peer
    assert body["agent_name"] == agent["name"]
    assert set(body) >= {
        "online", "last_seen", "honesty_score", "is_equivocator", "dispatch_allowed",
        "entries_count", "rater_summary",
    }  # fmt: skip
    assert "last_entry_at" not in body  # no ledger entries
    assert set(body["rater_summary"]) == {"verified_raters_count", "unverified_raters_count"}
    rep = httpx.get(f"{gateway.url}/v1/peers/{peer}/reputation").json()
    assert rep["scores"] == {"honesty": agent["honesty_score"]}
    assert set(rep) == {"peer_id", "scores", "rating_count", "is_equivocator"}
    log = httpx.get(f"{gateway.url}/v1/peers/{peer}/log", params={"limit": 5}).json()
    assert (log["entries"], log["limit"], log["subject"]) == ([], 5, peer)
    r = httpx.get(f"{gateway.url}/v1/peers/{peer}/log", params={"limit": "-1"})
    assert (r.status_code, r.json()["limit"]) == (200, 50)


def test_peer_route_errors(gateway: Any) -> None:
    for path in ("", "/reputation", "/log"):
        r = httpx.get(f"{gateway.url}/v1/peers/not-a-peer{path}")
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "bad_peer_id"
        # a valid id this gateway never saw is a peer with nothing recorded
        r = httpx.get(f"{gateway.url}/v1/peers/{new_identity().peer_id}{path}")
        assert r.status_code == 200
