"""Rows 13-26: CORS, the ``Origin`` gate (``boss/api.go``) and bearer auth (``boss/auth.go``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentfm_nb.gateway import LocalMeshGateway
from agentfm_nb.mesh.server import check_bind
from tests.conformance.conftest import CLEAN_ENV, metric, start_demo, start_keyed

KEY = "conformance-key-0123456789abcdef"
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "Content-Type",
}
PROTECTED = [
    "/api/workers",
    "/api/execute",
    "/api/execute/async",
    "/api/relay/test",
    "/v1/about",
    "/v1/models",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/peers/x",
]


def _cors(r: httpx.Response) -> dict[str, str]:
    return {k: r.headers[k] for k in CORS if k in r.headers}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMeshGateway]:
    gw = start_keyed(tmp_path_factory.mktemp("keyed"), [KEY, "second-key-0123456789abcdef"])
    try:
        yield gw
    finally:
        gw.stop()


def test_row13_cors_headers(client: httpx.Client, keyed: LocalMeshGateway) -> None:
    """api.go:corsMiddleware: the three headers on every protected route and /metrics, 401s
    included; none on /health or unknown paths."""
    for path in ("/api/workers", "/v1/about", "/v1/models", "/metrics"):
        assert _cors(client.get(path)) == CORS
    assert _cors(client.post("/api/execute", content=b"null")) == CORS
    assert _cors(httpx.get(f"{keyed.url}/api/workers")) == CORS  # a 401
    assert _cors(client.get("/health")) == {}
    assert _cors(client.get("/nope")) == {}


@pytest.mark.parametrize("path", [*PROTECTED, "/metrics"])
def test_row14_options_preflight_before_auth(keyed: LocalMeshGateway, path: str) -> None:
    """api.go:corsMiddleware (TestAPIAuth_OPTIONSPreflightBypassesAuth): OPTIONS is 200 with an
    empty body before auth, even with keys configured and no Authorization."""
    r = httpx.options(keyed.url + path, headers={"Origin": "https://evil.example"})
    assert (r.status_code, r.content) == (200, b"")
    assert _cors(r) == CORS


def test_row15_cross_site_post_refused_before_auth(
    client: httpx.Client, keyed: LocalMeshGateway
) -> None:
    """api.go:corsMiddleware: 403 text `cross-origin request refused`, checked before auth."""
    for base in (client.base_url, keyed.url):
        r = httpx.post(f"{base}/api/execute", headers={"Origin": "https://evil.example"})
        assert (r.status_code, r.text) == (403, "cross-origin request refused\n")
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert r.headers["x-content-type-options"] == "nosniff"
    r = client.post("/metrics", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("", True),
        ("http://localhost:3000", True),
        ("https://127.0.0.1", True),
        ("http://[::1]:8888", True),
        ("ftp://localhost", True),
        ("http://LOCALHOST", False),
        ("http://app.localhost", False),
        ("null", False),
        ("file://", False),
        ("https://evil.example", False),
        ("localhost:3000", False),
    ],
)
def test_row16_origin_rule(client: httpx.Client, origin: str, allowed: bool) -> None:
    """api.go:originAllowed: empty, or a loopback host under any scheme; null/file:// only with
    AGENTFM_ALLOW_FILE_ORIGIN=1 (unset here)."""
    r = client.post("/api/execute", headers={"Origin": origin}, content=b"null")
    assert r.status_code == (400 if allowed else 403)


def test_row16_file_origin_opt_in(tmp_path: Path) -> None:
    """api.go:allowFileOrigin: AGENTFM_ALLOW_FILE_ORIGIN == "1" trusts null and file://."""
    gw = start_demo(tmp_path, AGENTFM_ALLOW_FILE_ORIGIN="1")
    try:
        for origin in ("null", "file:///app/index.html"):
            r = httpx.post(f"{gw.url}/api/execute", headers={"Origin": origin}, content=b"null")
            assert r.status_code == 400
    finally:
        gw.stop()


def test_row17_safe_methods_unchecked(client: httpx.Client) -> None:
    """api.go:corsMiddleware: GET and HEAD skip the Origin check."""
    evil = {"Origin": "https://evil.example"}
    assert client.get("/api/workers", headers=evil).status_code == 200
    assert client.head("/api/workers", headers=evil).status_code == 405  # the handler's answer


def test_row18_auth_scope(keyed: LocalMeshGateway) -> None:
    """api.go:StartAPIServer: /api/* and /v1/* behind auth; /health, /metrics, /ui/peer/ and
    unknown paths open."""
    for path in PROTECTED:
        assert httpx.get(keyed.url + path).status_code == 401, path
    assert httpx.get(f"{keyed.url}/health").status_code == 200
    assert httpx.get(f"{keyed.url}/metrics").status_code == 200
    assert httpx.get(f"{keyed.url}/ui/peer/x").status_code == 200
    assert httpx.get(f"{keyed.url}/unknown").status_code == 404


def _start(keys: str, tmp_path: Path) -> subprocess.CompletedProcess[str] | None:
    """Start a gateway with ``keys``; None when it came up (then stopped), else the refusal."""
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env["AGENTFM_API_KEYS"] = keys
    argv = [sys.executable, "-m", "agentfm_nb.mesh", "--port", "0"]
    argv += ["--artifacts-dir", str(tmp_path / "a")]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        if "listening on" in line:
            return None
        proc.wait(30)
        return subprocess.CompletedProcess(argv, proc.returncode, "", line + proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def test_row19_key_length_in_bytes(tmp_path: Path) -> None:
    """auth.go:loadTokensFromEnv: trimmed, empty parts skipped; a key under 16 *bytes* refuses
    the start (9 x é = 18 bytes passes, 7 x é = 14 bytes does not)."""
    assert _start(" " + "é" * 9 + " ,, ", tmp_path) is None
    refused = _start("é" * 7, tmp_path)
    assert refused is not None
    assert refused.returncode != 0
    assert "é" not in refused.stderr  # the key is never echoed


def _env(r: httpx.Response) -> tuple[int, str, str, str]:
    e = r.json()["error"]
    return r.status_code, e["code"], e["type"], e["message"]


def test_row20_401_codes(keyed: LocalMeshGateway) -> None:
    """auth.go:outcomeToCode: missing/malformed -> unauthorized, wrong -> invalid_api_key;
    type invalid_request_error."""
    url = f"{keyed.url}/api/workers"
    assert _env(httpx.get(url))[:3] == (401, "unauthorized", "invalid_request_error")
    bad = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert _env(httpx.get(url, headers=bad))[:3] == (401, "unauthorized", "invalid_request_error")
    wrong = {"Authorization": "Bearer wrong-key-but-long-enough"}
    assert _env(httpx.get(url, headers=wrong))[:3] == (
        401,
        "invalid_api_key",
        "invalid_request_error",
    )


def test_row21_401_messages(keyed: LocalMeshGateway) -> None:
    """auth.go:middleware: the three failure messages."""
    url = f"{keyed.url}/v1/models"
    assert _env(httpx.get(url))[3] == "missing or malformed Bearer token"
    assert _env(httpx.get(url, headers={"Authorization": "Token x"}))[3] == (
        "missing or malformed Bearer token"
    )
    assert _env(httpx.get(url, headers={"Authorization": "Bearer nope-nope-nope-nope"}))[3] == (
        "invalid API key"
    )
    two = [("Authorization", f"Bearer {KEY}"), ("Authorization", f"Bearer {KEY}")]
    assert _env(httpx.get(url, headers=two)) == (
        401,
        "unauthorized",
        "invalid_request_error",
        "multiple Authorization headers",
    )


def test_row22_bearer_parsing(keyed: LocalMeshGateway) -> None:
    """auth.go:parseBearer: scheme in any case, then the token verbatim."""
    url = f"{keyed.url}/api/workers"
    for header in (f"Bearer {KEY}", f"bearer {KEY}", f"BEARER {KEY}"):
        assert httpx.get(url, headers={"Authorization": header}).status_code == 200
    r = httpx.get(url, headers={"Authorization": f"Bearer  {KEY}"})
    assert _env(r)[:2] == (401, "invalid_api_key")
    r = httpx.get(url, headers={"Authorization": "Bearer \t x"})
    assert _env(r)[:2] == (401, "invalid_api_key")  # "\t x" is the (wrong) token
    r = httpx.get(url, headers={"Authorization": "Bearer"})
    assert _env(r)[:2] == (401, "unauthorized")


def test_row23_no_www_authenticate(keyed: LocalMeshGateway) -> None:
    """auth.go:fail: no WWW-Authenticate header on a 401."""
    r = httpx.get(f"{keyed.url}/api/workers")
    assert r.status_code == 401
    assert "www-authenticate" not in r.headers


def test_row24_failure_token_bucket(tmp_path: Path) -> None:
    """auth.go:badAttemptLimiter: failures only spend a per-IP bucket (burst 30, refill
    0.5/s); the 31st failure is 429 rate_limited with Retry-After 60; a valid key always
    passes; the bucket refills."""
    gw = start_keyed(tmp_path, [KEY])
    try:
        url = f"{gw.url}/api/workers"
        wrong = {"Authorization": "Bearer wrong-key-but-long-enough"}
        with httpx.Client() as c:
            started = time.monotonic()
            codes: list[int] = []
            while len(codes) < 300 and 429 not in codes:
                r = c.get(url, headers=wrong)
                codes.append(r.status_code)
            refilled = (time.monotonic() - started) * 0.5  # what the bucket regained meanwhile
            assert codes[-1] == 429
            assert 30 <= codes.count(401) <= 30 + refilled + 1
            assert r.headers["retry-after"] == "60"
            assert r.json() == {
                "error": {
                    "message": "too many failed auth attempts; slow down",
                    "type": "invalid_request_error",
                    "code": "rate_limited",
                }
            }
            ok = {"Authorization": f"Bearer {KEY}"}
            assert [c.get(url, headers=ok).status_code for _ in range(5)] == [200] * 5
            time.sleep(2.5)  # 0.5 tokens/s: at least one failure is allowed again
            assert c.get(url, headers=wrong).status_code == 401
            scrape = c.get(f"{gw.url}/metrics").text
        assert metric(scrape, 'agentfm_auth_attempts_total{outcome="rate_limited"}') == 1
        assert metric(scrape, 'agentfm_auth_attempts_total{outcome="ok"}') >= 5
    finally:
        gw.stop()


def _bind(host: str, env_value: str | None) -> int | None:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    if env_value is not None:
        env["AGENTFM_ALLOW_UNAUTH_PUBLIC"] = env_value
    argv = [sys.executable, "-m", "agentfm_nb.mesh", "--host", host, "--port", "0"]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True, cwd="/tmp")
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        if "listening on" in line:
            return None
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def test_row25_public_bind_opt_in() -> None:
    """auth.go:enforceStartupAuthGuard / isLoopbackBind: a keyless non-loopback bind needs
    AGENTFM_ALLOW_UNAUTH_PUBLIC == "1" exactly."""
    assert _bind("0.0.0.0", None) not in (None, 0)
    assert _bind("0.0.0.0", "true") not in (None, 0)
    assert _bind("0.0.0.0", " 1") not in (None, 0)
    assert _bind("127.0.0.2", None) is None  # any loopback address
    # accepting "1" would open a public socket, which tests never do: the guard itself
    os.environ["AGENTFM_ALLOW_UNAUTH_PUBLIC"] = "1"
    try:
        check_bind("0.0.0.0", [])
    finally:
        del os.environ["AGENTFM_ALLOW_UNAUTH_PUBLIC"]


def test_row26_auth_outcome_metric(keyed: LocalMeshGateway) -> None:
    """auth.go:parseBearer + metrics.go: malformed headers count as outcome="malformed"."""
    scrape = httpx.get(f"{keyed.url}/metrics").text
    before = metric(scrape, 'agentfm_auth_attempts_total{outcome="malformed"}')
    missing = metric(scrape, 'agentfm_auth_attempts_total{outcome="missing"}')
    httpx.get(f"{keyed.url}/api/workers", headers={"Authorization": "Token abc"})
    httpx.get(f"{keyed.url}/api/workers")
    scrape = httpx.get(f"{keyed.url}/metrics").text
    assert metric(scrape, 'agentfm_auth_attempts_total{outcome="malformed"}') == before + 1
    assert metric(scrape, 'agentfm_auth_attempts_total{outcome="missing"}') == missing + 1
