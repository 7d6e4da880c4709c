"""Rows 76-83: ``/v1/peers/*`` (``boss/api_reputation.go``) and ``/metrics``
(``internal/metrics/metrics.go`` and the boss handlers that count)."""

from __future__ import annotations

import httpx
import pytest

from tests.conformance.conftest import Conformance, metric


@pytest.fixture
def stranger(client: httpx.Client) -> str:
    """A valid peer id that is no worker here (the boss's own)."""
    peer_id: str = client.get("/v1/about").json()["boss_peer_id"]
    return peer_id


def test_row76_unknown_valid_peer(client: httpx.Client, stranger: str) -> None:
    """api_reputation.go:handlePeerGet / handleReputation / handleLog: a valid id the boss has
    never seen is 200 with online false and zero counts."""
    r = client.get(f"/v1/peers/{stranger}")
    assert r.status_code == 200
    assert r.json() == {
        "peer_id": stranger,
        "agent_name": "",
        "online": False,
        "honesty_score": 0.0,
        "is_equivocator": False,
        "dispatch_allowed": True,
        "entries_count": 0,
        "rater_summary": {"verified_raters_count": 0, "unverified_raters_count": 0},
    }
    r = client.get(f"/v1/peers/{stranger}/reputation")
    assert r.status_code == 200
    assert r.json()["rating_count"] == 0
    r = client.get(f"/v1/peers/{stranger}/log")
    assert (r.status_code, r.json()["returned"]) == (200, 0)


@pytest.mark.parametrize("suffix", ["", "/reputation", "/log"])
def test_row77_malformed_peer_id(client: httpx.Client, suffix: str) -> None:
    """api_reputation.go: peer.Decode failure -> 400 bad_peer_id."""
    r = client.get(f"/v1/peers/not-a-peer{suffix}")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_peer_id"
    assert r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("", 50),
        ("?limit=0", 50),
        ("?limit=abc", 50),
        ("?limit=-5", 50),
        ("?limit=7", 7),
        ("?limit=501", 500),
        ("?limit=99999999999999999999999", 50),
        ("?limit=10&offset=2000000", 10),
        ("?offset=x", 50),
    ],
)
def test_row78_log_shape_and_clamping(
    client: httpx.Client, conf: Conformance, query: str, limit: int
) -> None:
    """api_reputation.go:handleLog: {subject, limit, offset, returned, entries}; a bad or zero
    limit is 50, over 500 is 500; the offset is clamped to the (empty) entry list."""
    peer = conf.peers["Echo"]
    r = client.get(f"/v1/peers/{peer}/log{query}")
    assert r.status_code == 200
    assert r.json() == {"subject": peer, "limit": limit, "offset": 0, "returned": 0, "entries": []}


def test_row79_reputation_omitempty(client: httpx.Client, conf: Conformance) -> None:
    """api_reputation.go:handleReputation: last_updated only with ratings, image/capability
    only when advertised."""
    peer = conf.peers["Echo"]
    body = client.get(f"/v1/peers/{peer}/reputation").json()
    assert body == {
        "peer_id": peer,
        "scores": {"honesty": 0.5},
        "rating_count": 0,
        "is_equivocator": False,
    }


def test_row80_summary_omitempty(client: httpx.Client, conf: Conformance) -> None:
    """api_reputation.go:handlePeerGet: author/description/last_seen only when known, no
    last_entry_at without entries."""
    body = client.get(f"/v1/peers/{conf.peers['Lines']}").json()
    assert body["online"] is True
    assert (body["agent_name"], body["author"], body["description"]) == (
        "Lines",
        "agentfm-nb",
        "Lines agent",
    )
    assert "last_seen" in body
    assert "last_entry_at" not in body
    gate = client.get(f"/v1/peers/{conf.peers['Gate']}").json()
    assert "author" not in gate


FAMILIES = {
    "agentfm_tasks_total": "counter",
    "agentfm_task_duration_seconds": "histogram",
    "agentfm_workers_online": "gauge",
    "agentfm_artifact_bytes_sent_total": "counter",
    "agentfm_artifacts_built_total": "counter",
    "agentfm_stream_errors_total": "counter",
    "agentfm_dht_queries_total": "counter",
    "agentfm_auth_attempts_total": "counter",
}


def test_row81_families_prewarmed(client: httpx.Client, conf: Conformance) -> None:
    """metrics.go:init: every family and labelled series present from the start, plus the
    process collector; workers_online is the telemetry view's size."""
    text = client.get("/metrics").text
    for family, kind in FAMILIES.items():
        assert f"# TYPE {family} {kind}" in text, family
    for status in ("ok", "error", "rejected", "timeout"):
        metric(text, f'agentfm_tasks_total{{status="{status}"}}')
    for protocol in ("task", "artifacts", "feedback"):
        for reason in (
            "decode",
            "deadline",
            "reset",
            "peer_eof",
            "capacity_rejected",
            "version_mismatch",
            "unknown",
        ):
            metric(text, f'agentfm_stream_errors_total{{protocol="{protocol}",reason="{reason}"}}')
    for op in ("find_peer", "provide", "get_value"):
        metric(text, f'agentfm_dht_queries_total{{op="{op}"}}')
    for outcome in ("ok", "missing", "malformed", "invalid", "rate_limited"):
        metric(text, f'agentfm_auth_attempts_total{{outcome="{outcome}"}}')
    assert 'agentfm_task_duration_seconds_bucket{le="1800.0"}' in text
    assert metric(text, "agentfm_workers_online") == len(conf.peers) - 1
    assert "process_cpu_seconds_total" in text


def test_row82_counting(client: httpx.Client, conf: Conformance) -> None:
    """api_handlers.go:handleExecuteTask: every call counted and timed: 400s as error, 404 as
    rejected, a streamed task as ok (an agent failing in-band too); worker/handler.go: a
    capacity refusal is a stream error capacity_rejected."""

    def scrape() -> str:
        return client.get("/metrics").text

    before = scrape()
    client.post("/api/execute", content=b"{")
    client.post("/api/execute", json={"worker_id": "zzz", "prompt": "x"})
    client.post("/api/execute", json={"worker_id": conf.peers["Fail"], "prompt": "x"})
    gate = conf.gate()
    held = {"worker_id": conf.peers["Gate"], "prompt": str(gate)}
    with client.stream("POST", "/api/execute", json=held) as running:
        lines = running.iter_lines()
        assert next(lines) == "started"
        client.post("/api/execute", json={"worker_id": conf.peers["Gate"], "prompt": "x"})
        gate.touch()
        list(lines)
    after = scrape()

    def delta(sample: str) -> float:
        return metric(after, sample) - metric(before, sample)

    assert delta('agentfm_tasks_total{status="error"}') == 1
    assert delta('agentfm_tasks_total{status="rejected"}') == 1
    assert delta('agentfm_tasks_total{status="ok"}') == 3
    assert delta("agentfm_task_duration_seconds_count") == 5
    sample = 'agentfm_stream_errors_total{protocol="task",reason="capacity_rejected"}'
    assert delta(sample) == 1


def test_row83_content_type(client: httpx.Client) -> None:
    """metrics.go:Handler (promhttp): text format 0.0.4; gzip when asked."""
    r = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    raw = httpx.get(f"{client.base_url}/metrics", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert "agentfm_tasks_total" in raw.text  # httpx undid the gzip
