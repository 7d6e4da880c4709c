"""Auth exactly as the real gateway: keys, envelopes, throttle, Origin gate, start-up refusals."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from agentfm_nb.errors import AgentFMError
from agentfm_nb.mesh.auth import KeyRing, origin_allowed, parse_api_keys
from agentfm_nb.mesh.server import check_bind

OTHER_KEY = "second-valid-key-abcdefghijklmnop"


@pytest.fixture
def authed(start_gateway: Any, api_key: str) -> Any:
    return start_gateway(api_keys=[api_key, OTHER_KEY])


def _code(r: httpx.Response) -> str:
    body = r.json()
    assert set(body["error"]) >= {"message", "type", "code"}
    return str(body["error"]["code"])


def test_exempt_routes_need_no_key(authed: Any) -> None:
    assert httpx.get(f"{authed.url}/health").json()["status"] == "ok"
    assert "agentfm_auth_attempts_total" in httpx.get(f"{authed.url}/metrics").text


@pytest.mark.parametrize("path", ["/api/workers", "/v1/models", "/v1/about", "/v1/events"])
def test_missing_malformed_and_wrong_keys(authed: Any, path: str) -> None:
    url = authed.url + path
    r = httpx.get(url)
    assert (r.status_code, _code(r)) == (401, "unauthorized")
    assert r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.get(url, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert (r.status_code, _code(r)) == (401, "unauthorized")
    r = httpx.get(url, headers={"Authorization": "Bearer"})
    assert (r.status_code, _code(r)) == (401, "unauthorized")
    r = httpx.get(url, headers={"Authorization": "Bearer wrong-key-but-long-enough"})
    assert (r.status_code, _code(r)) == (401, "invalid_api_key")


def test_every_configured_key_works(authed: Any, api_key: str) -> None:
    for key in (api_key, OTHER_KEY):
        r = httpx.get(f"{authed.url}/api/workers", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
    metrics = httpx.get(f"{authed.url}/metrics").text
    assert 'agentfm_auth_attempts_total{outcome="ok"} 2.0' in metrics


def test_failed_attempts_are_throttled_per_ip(authed: Any, api_key: str) -> None:
    wrong = {"Authorization": "Bearer nope-nope-nope-nope"}
    with httpx.Client(base_url=authed.url) as client:
        codes: list[int] = []
        while len(codes) < 300 and 429 not in codes:
            r = client.get("/api/workers", headers=wrong)
            codes.append(r.status_code)
        assert (r.status_code, _code(r)) == (429, "rate_limited")
        assert codes.count(401) >= 30  # the burst (plus whatever refilled meanwhile)
        # only failures spend the bucket: a right key still passes
        r = client.get("/api/workers", headers={"Authorization": f"Bearer {api_key}"})
        assert r.status_code == 200
        # the exempt routes stay reachable
        assert client.get("/health").status_code == 200
    metrics = httpx.get(f"{authed.url}/metrics").text
    invalid = codes.count(401)
    assert f'agentfm_auth_attempts_total{{outcome="invalid"}} {invalid}.0' in metrics
    assert 'agentfm_auth_attempts_total{outcome="rate_limited"} 1.0' in metrics
    assert 'agentfm_auth_attempts_total{outcome="ok"} 1.0' in metrics


def test_cross_site_origin_refused_on_state_changing_routes(gateway: Any) -> None:
    agents = httpx.get(f"{gateway.url}/api/workers").json()["agents"]
    peer = next(a["peer_id"] for a in agents if a["name"] == "Echo")
    body = {"worker_id": peer, "prompt": "hi"}
    for path in ("/api/execute", "/api/execute/async", "/v1/chat/completions"):
        r = httpx.post(gateway.url + path, json=body, headers={"Origin": "https://evil.example"})
        assert (r.status_code, r.text) == (403, "cross-origin request refused\n"), path
        r = httpx.post(gateway.url + path, json=body, headers={"Origin": "null"})
        assert r.status_code == 403, path
    for origin in ("http://localhost:8888", "http://127.0.0.1:9999", gateway.url, ""):
        r = httpx.post(f"{gateway.url}/api/execute", json=body, headers={"Origin": origin})
        assert r.status_code == 200, origin
    # reads are not state-changing
    r = httpx.get(f"{gateway.url}/api/workers", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200


def test_origin_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTFM_ALLOW_FILE_ORIGIN", raising=False)
    assert origin_allowed("")
    assert origin_allowed("http://localhost:8888")
    assert origin_allowed("ws://localhost")
    assert origin_allowed("http://[::1]:80")
    assert origin_allowed("http://user@127.0.0.1:1")
    assert not origin_allowed("http://app.localhost")
    assert not origin_allowed("http://Localhost")
    assert not origin_allowed("https://gw.example:8443")
    assert not origin_allowed("null")
    assert not origin_allowed("file://")
    assert not origin_allowed("https://127.0.0.1.evil.example")
    assert not origin_allowed("localhost:8080")
    monkeypatch.setenv("AGENTFM_ALLOW_FILE_ORIGIN", "1")
    assert origin_allowed("null")
    assert origin_allowed("file:///index.html")


def test_key_ring_compares_against_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [f"key-number-{i:02d}-abcdefgh" for i in range(5)]
    ring = KeyRing(keys)
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr("agentfm_nb.mesh.auth.hmac.compare_digest", counting)
    assert ring.check(keys[0].encode())  # a first-key match still walks the whole ring
    assert len(calls) == 5
    calls.clear()
    assert not ring.check(b"not-a-key-at-all-xxxxxxx")
    assert len(calls) == 5
    assert "key-number" not in repr(ring)


def test_short_keys_refused_without_echoing_them() -> None:
    assert parse_api_keys(" a-valid-key-of-16+ , ") == ["a-valid-key-of-16+"]
    assert parse_api_keys("") == []
    with pytest.raises(AgentFMError) as info:
        parse_api_keys("a-valid-key-of-16+,short-secret")
    assert "short-secret" not in info.value.message
    assert "#2" in info.value.message


def _run_gateway(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFM_")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "agentfm_nb.mesh", "--port", "0", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_process_refuses_short_key() -> None:
    done = _run_gateway({"AGENTFM_API_KEYS": "tiny-secret"})
    assert done.returncode != 0
    assert "shorter than 16 bytes" in done.stderr
    assert "tiny-secret" not in done.stderr + done.stdout


def test_process_refuses_public_bind_without_keys() -> None:
    done = _run_gateway({}, "--host", "0.0.0.0")
    assert done.returncode != 0
    assert "AGENTFM_ALLOW_UNAUTH_PUBLIC" in done.stderr
    assert "listening" not in done.stderr


def test_bind_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTFM_ALLOW_UNAUTH_PUBLIC", raising=False)
    check_bind("127.0.0.1", [])
    check_bind("localhost", [])
    check_bind("::1", [])
    check_bind("0.0.0.0", ["k" * 16])
    with pytest.raises(AgentFMError):
        check_bind("0.0.0.0", [])
    with pytest.raises(AgentFMError):
        check_bind("192.168.1.10", [])
    for almost in ("true", "yes", " 1", "01"):
        monkeypatch.setenv("AGENTFM_ALLOW_UNAUTH_PUBLIC", almost)
        with pytest.raises(AgentFMError):
            check_bind("0.0.0.0", [])
    monkeypatch.setenv("AGENTFM_ALLOW_UNAUTH_PUBLIC", "1")
    check_bind("0.0.0.0", [])
