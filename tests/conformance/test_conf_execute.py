"""Rows 27-41: ``POST /api/execute`` (``boss/api_handlers.go:handleExecuteTask`` and the worker
side, ``worker/handler.go:handleTaskStream``), plus the duplicate-task-id and DNS-rebinding
guards (hardening, documented in docs/compatibility.md)."""

from __future__ import annotations

import re
import zipfile

import httpx
import pytest

from tests.conformance.conftest import Conformance

TEXT = "text/plain; charset=utf-8"
SANDBOX = "\u26a0\ufe0f  Sandbox exited: "


def _plain(r: httpx.Response, status: int, text: str) -> None:
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"] == TEXT
    assert r.headers["x-content-type-options"] == "nosniff"


def _run(client: httpx.Client, conf: Conformance, name: str, prompt: str = "p") -> httpx.Response:
    return client.post("/api/execute", json={"worker_id": conf.peers[name], "prompt": prompt})


def test_row27_validation_order(client: httpx.Client, conf: Conformance) -> None:
    """api_handlers.go:handleExecuteTask: JSON -> worker_id -> prompt -> task_id -> table
    lookup (404, so a malformed id is "not found") -> peer.Decode -> trust gate."""
    post = client.post
    _plain(post("/api/execute", content=b"{"), 400, "Invalid JSON payload\n")
    _plain(post("/api/execute", json={"prompt": "x"}), 400, "worker_id is required\n")
    _plain(post("/api/execute", json={"worker_id": "zzz"}), 400, "prompt is required\n")
    bad_task = {"worker_id": "zzz", "prompt": "x", "task_id": "bad id"}
    _plain(post("/api/execute", json=bad_task), 400, "Invalid task_id format\n")
    for worker_id in ("zzz", "12D3KooWnot-base58!", conf.peers["Ghost"]):
        r = post("/api/execute", json={"worker_id": worker_id, "prompt": "x"})
        _plain(r, 404, "Worker not found or offline\n")


def test_row28_error_bodies(client: httpx.Client) -> None:
    """api_handlers.go:handleExecuteTask: http.Error bodies (text + newline, nosniff)."""
    _plain(client.post("/api/execute", content=b"[]"), 400, "Invalid JSON payload\n")


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"null", 400, "worker_id is required\n"),
        (b'{"worker_id": null, "prompt": "x"}', 400, "worker_id is required\n"),
        (b'{"worker_id": "zzz", "prompt": null}', 400, "prompt is required\n"),
        (b'{"worker_id": 1, "prompt": "x"}', 400, "Invalid JSON payload\n"),
        (b'{"worker_id": "zzz", "prompt": ["x"]}', 400, "Invalid JSON payload\n"),
        (b'{"worker_id": "zzz", "prompt": "x", "task_id": 7}', 400, "Invalid JSON payload\n"),
        (b'{"WORKER_ID": "zzz", "Prompt": "x"}', 404, "Worker not found or offline\n"),
        (
            b'{"worker_id": "zzz", "prompt": "x"} trailing {bytes',
            404,
            "Worker not found or offline\n",
        ),
        (
            b'{"worker_id": "zzz", "prompt": "x", "unknown": [1]}',
            404,
            "Worker not found or offline\n",
        ),
        (b'  "a string"', 400, "Invalid JSON payload\n"),
        (b"", 400, "Invalid JSON payload\n"),
    ],
)
def test_row29_go_json_decoding(client: httpx.Client, body: bytes, status: int, text: str) -> None:
    """api_handlers.go:handleExecuteTask (json.Decoder into ExecuteRequest): null is an empty
    request, trailing bytes are ignored, keys match case-insensitively, null fields are empty,
    a wrongly typed value fails the decode."""
    _plain(client.post("/api/execute", content=body), status, text)


def test_row30_body_cap(client: httpx.Client, conf: Conformance) -> None:
    """api_handlers.go:handleExecuteTask: io.LimitReader(1 MiB); a longer value is cut short,
    which fails the decode (400, not 413); bytes after a complete value are never read."""
    big = b'{"worker_id": "zzz", "prompt": "' + b"a" * (1 << 20) + b'"}'
    _plain(client.post("/api/execute", content=big), 400, "Invalid JSON payload\n")
    head = b'{"worker_id": "%s", "prompt": "hi"}' % conf.peers["Echo"].encode()
    r = client.post("/api/execute", content=head + b" " * (2 << 20))
    assert r.status_code == 200


def test_row31_task_id(client: httpx.Client, conf: Conformance) -> None:
    """api_handlers.go:handleExecuteTask + network.SafeTaskIDPattern: optional, RE2
    `^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`; minted as task_ + 24 hex."""
    peer = conf.peers["Maker"]
    for task_id in ("a" * 129, "_lead", "tab\there", "line\n", "é"):
        r = client.post("/api/execute", json={"worker_id": peer, "prompt": "x", "task_id": task_id})
        _plain(r, 400, "Invalid task_id format\n")
    ok_id = "A" + "b-._9" * 25 + "zz"
    assert len(ok_id) == 128
    r = client.post("/api/execute", json={"worker_id": peer, "prompt": "x", "task_id": ok_id})
    assert r.status_code == 200
    assert (conf.gw.artifacts_dir / f"{ok_id}.zip").exists()
    before = set(conf.gw.artifacts_dir.glob("task_*.zip"))
    assert _run(client, conf, "Maker").status_code == 200
    minted = set(conf.gw.artifacts_dir.glob("task_*.zip")) - before
    assert len(minted) == 1
    assert re.fullmatch(r"task_[0-9a-f]{24}\.zip", minted.pop().name)


def test_row32_stream_headers(client: httpx.Client, conf: Conformance) -> None:
    """api_handlers.go:handleExecuteTask: text/plain (no charset), no-cache, chunked."""
    r = _run(client, conf, "Echo")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["cache-control"] == "no-cache"
    assert "x-content-type-options" not in r.headers


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("Lines", "hello\nworld\n\n[AGENTFM: NO_FILES]\n"),
        ("Partial", "partial\n[AGENTFM: NO_FILES]\n"),
    ],
)
def test_row33_stream_bytes(client: httpx.Client, conf: Conformance, name: str, body: str) -> None:
    """worker/handler.go:handleTaskStream: the agent's raw bytes, then `\\n[AGENTFM: ...]\\n`."""
    r = _run(client, conf, name)
    assert (r.status_code, r.text) == (200, body)


def test_row34_partial_lines_forwarded(client: httpx.Client, conf: Conformance) -> None:
    """api_handlers.go:handleExecuteTask: each read is written and flushed at once, so a
    partial line arrives before the agent finishes it."""
    gate = conf.gate()
    body = {"worker_id": conf.peers["Slow"], "prompt": str(gate)}
    with client.stream("POST", "/api/execute", json=body) as r:
        chunks = r.iter_raw()
        first = next(chunks)
        gate.touch()  # only now may the agent finish its line
        rest = b"".join(chunks)
    assert first == b"a"
    assert first + rest == b"ab\n\n[AGENTFM: NO_FILES]\n"


def test_row35_stderr_interleaved(client: httpx.Client, conf: Conformance) -> None:
    """worker/sandbox.go (cmd.Stderr = the stream): stderr lands in the stream in order."""
    r = _run(client, conf, "Mixed")
    assert r.text == "out1\nerr1\nout2\n\n[AGENTFM: NO_FILES]\n"


def test_row36_agent_failure_in_band(client: httpx.Client, conf: Conformance) -> None:
    """worker/sandbox.go: stderr, then `⚠️  Sandbox exited: exit status N`, then the sentinel;
    HTTP 200."""
    r = _run(client, conf, "Fail")
    assert r.status_code == 200
    assert r.text == f"boom\n{SANDBOX}exit status 3\n\n[AGENTFM: NO_FILES]\n"


def test_row37_agent_marker_lines_forwarded(client: httpx.Client, conf: Conformance) -> None:
    """worker/handler.go:handleTaskStream: the agent's own bytes are not filtered."""
    r = _run(client, conf, "Marker")
    assert r.text == "[AGENTFM: FILES_INCOMING]\ntext\n\n[AGENTFM: NO_FILES]\n"


def test_row38_capacity_in_band(client: httpx.Client, conf: Conformance) -> None:
    """worker/handler.go:handleTaskStream: a full worker answers 200 with one line and no
    sentinel; the boss does not check capacity."""
    gate = conf.gate()
    held = {"worker_id": conf.peers["Gate"], "prompt": str(gate)}
    with client.stream("POST", "/api/execute", json=held) as running:
        lines = running.iter_lines()
        assert next(lines) == "started"
        r = _run(client, conf, "Gate")
        gate.touch()
        rest = list(lines)
    assert r.status_code == 200
    assert r.text == "\u274c ERROR: Worker is at max capacity (1/1). Try another worker.\n"
    assert r.headers["content-type"] == "text/plain"
    assert rest == ["released", "", "[AGENTFM: NO_FILES]"]


def test_row39_artifacts(client: httpx.Client, conf: Conformance) -> None:
    """worker/handler.go:handleTaskStream + network/artifacts.go: FILES_INCOMING, and the zip
    at <artifacts>/<task_id>.zip."""
    body = {"worker_id": conf.peers["Maker"], "prompt": "x", "task_id": "conf-row39"}
    r = client.post("/api/execute", json=body)
    assert r.text == "made\n\n[AGENTFM: FILES_INCOMING]\n"
    with zipfile.ZipFile(conf.gw.artifacts_dir / "conf-row39.zip") as zf:
        assert [zf.read(n) for n in zf.namelist() if n.endswith("out.txt")] == [b"made"]


def test_row40_feedback_fields(client: httpx.Client, conf: Conformance) -> None:
    """api.go:ExecuteRequest: feedback / feedback_rating are accepted (no ledger here: no
    comment is written) but must have their Go types."""
    peer = conf.peers["Echo"]
    ok = {"worker_id": peer, "prompt": "hi", "feedback": "good", "feedback_rating": 0.5}
    assert client.post("/api/execute", json=ok).status_code == 200
    bad = {"worker_id": peer, "prompt": "hi", "feedback_rating": "great"}
    _plain(client.post("/api/execute", json=bad), 400, "Invalid JSON payload\n")


def test_row41_trust_gate(client: httpx.Client, conf: Conformance) -> None:
    """api_handlers.go:handleExecuteTask (checkTrust): no ledger marks anyone an equivocator,
    so every online worker is dispatchable and says so."""
    agents = client.get("/api/workers").json()["agents"]
    assert all(a["dispatch_allowed"] and not a["is_equivocator"] for a in agents)
    assert all("dispatch_refuse_reason" not in a for a in agents)
    assert _run(client, conf, "Echo").status_code == 200


def test_duplicate_task_id_in_flight_refused(client: httpx.Client, conf: Conformance) -> None:
    """Hardening (ours, docs/compatibility.md): a second task under an id still in flight is
    409, so two clients never share one artifact path; the id is free again afterwards."""
    gate = conf.gate()
    body = {"worker_id": conf.peers["Slow"], "prompt": str(gate), "task_id": "conf-dup"}
    with client.stream("POST", "/api/execute", json=body) as first:
        chunks = first.iter_raw()
        assert next(chunks) == b"a"
        again = {"worker_id": conf.peers["Echo"], "prompt": "x", "task_id": "conf-dup"}
        _plain(
            client.post("/api/execute", json=again), 409, "task_id conf-dup is already in flight\n"
        )
        gate.touch()
        assert b"".join(chunks).endswith(b"[AGENTFM: NO_FILES]\n")
    assert client.post("/api/execute", json=again).status_code == 200


def test_dns_rebinding_host_refused(conf: Conformance) -> None:
    """Hardening (ours, docs/compatibility.md): a keyless loopback gateway refuses a Host that
    is not a loopback name or address."""
    for host in ("attacker.example", "attacker.example:80", "10.0.0.1"):
        r = httpx.get(f"{conf.url}/api/workers", headers={"Host": host})
        assert r.status_code == 403
    for host in ("localhost", "127.0.0.1:1", "[::1]:8080", "app.localhost"):
        assert httpx.get(f"{conf.url}/api/workers", headers={"Host": host}).status_code == 200
