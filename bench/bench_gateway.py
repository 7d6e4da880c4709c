"""Embedded gateway speed, side by side with a raw baseline: ``python bench/bench_gateway.py``.

1. ``GET /api/workers`` requests/s with 1,000 registered workers, against a bare ASGI app on the
   same uvicorn serving the same pre-serialized bytes.
2. 500 concurrent ``POST /api/execute`` streams on zero-work echo agents held to completion
   (errors, wall time), against the bare app answering the same chunked stream.
3. Streaming throughput of one agent printing 100,000 lines through ``/api/execute``, against
   reading the same agent's stdout pipe directly.

Everything runs on loopback with free ports and stops by itself; ``--quick`` shortens the runs.
Numbers are from the one machine they ran on: read the ratio column, not the absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _table import Row, print_table

from agentfm_nb.gateway import LocalMeshGateway
from agentfm_nb.gateway._process import free_port

SENTINELS = (b"[AGENTFM: NO_FILES]", b"[AGENTFM: FILES_INCOMING]")
FIREHOSE = [sys.executable, "-u", "-m", "agentfm_nb.mesh.demo_agents.firehose"]

MESH_TOML = """
seed = "bench"
[[workers]]
name = "Echo"
engine = "echo"
author = "bench"
kind = "python"
callable = "agentfm_nb.mesh.demo:echo"
max_tasks = 1
count = 1000

[[workers]]
name = "Firehose"
engine = "firehose"
author = "bench"
kind = "command"
argv = {argv}
"""

# The peer: the least an ASGI app on the same server stack can do for the same requests.
RAW_APP = """
import json, sys
import uvicorn

BODY = open(sys.argv[1], "rb").read()
JSON = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/api/execute":
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        prompt = json.loads(raw)["prompt"]
        await send({"type": "http.response.start", "status": 200, "headers": TEXT})
        await send({"type": "http.response.body", "body": prompt.encode() + b"\\n",
                    "more_body": True})
        await send({"type": "http.response.body", "body": b"[AGENTFM: NO_FILES]\\n"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": JSON})
    await send({"type": "http.response.body", "body": BODY})


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            access_log=False, http=sys.argv[3], loop="asyncio", lifespan="on")
"""


def http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


@contextmanager
def raw_server(root: Path, body: bytes) -> Iterator[str]:
    (root / "raw_body.json").write_bytes(body)
    (root / "raw_app.py").write_text(RAW_APP)
    port = free_port()
    impl = http_impl()
    log = (root / "raw_app.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(root / "raw_app.py"), str(root / "raw_body.json"), str(port), impl],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "raw baseline app did not start: " + (root / "raw_app.log").read_text()
                )
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# The load generator is aiohttp's client: httpx is the slower of the two by a wide margin, and a
# client-bound run would report a ratio of 1 whatever the servers do.

# ----------------------------------------------------------------------------- 1. /api/workers


async def requests_per_s(url: str, seconds: float, concurrency: int) -> tuple[float, int]:
    done = 0
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as http:
        async with http.get("/api/workers") as resp:  # warm the connection and any cache
            await resp.read()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with http.get("/api/workers") as resp:
                    body = await resp.read()
                if resp.status == 200 and body:
                    done += 1
                else:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return done / elapsed, errors


# ----------------------------------------------------------------------------- 2. 500 streams


async def concurrent_streams(url: str, peers: list[str], n: int) -> tuple[float, int]:
    errors = 0
    timeout = aiohttp.ClientTimeout(total=120)

    async def one(http: aiohttp.ClientSession, i: int) -> None:
        nonlocal errors
        body = {"worker_id": peers[i % len(peers)], "prompt": f"prompt {i}"}
        try:
            async with http.post("/api/execute", json=body) as resp:
                data = await resp.read()
            lines = data.splitlines()
            if resp.status != 200 or lines != [f"prompt {i}".encode(), SENTINELS[0]]:
                errors += 1
        except (aiohttp.ClientError, asyncio.TimeoutError):
            errors += 1

    connector = aiohttp.TCPConnector(limit=n)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        start = time.perf_counter()
        await asyncio.gather(*(one(http, i) for i in range(n)))
        return time.perf_counter() - start, errors


# ----------------------------------------------------------------------------- 3. throughput


def pipe_throughput(lines: int) -> tuple[float, int]:
    env = {**os.environ, "AGENTFM_PROMPT": str(lines), "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        FIREHOSE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(str(lines).encode())
    proc.stdin.close()
    size = 0
    while chunk := proc.stdout.read(256 * 1024):
        size += len(chunk)
    proc.wait()
    return size / (time.perf_counter() - start) / 1e6, size


async def gateway_throughput(url: str, peer: str, lines: int) -> tuple[float, int]:
    size = 0
    tail = b""
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(url, timeout=timeout) as http:
        start = time.perf_counter()
        body = {"worker_id": peer, "prompt": str(lines)}
        async with http.post("/api/execute", json=body) as resp:
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                tail = (tail + chunk)[-64:]
        elapsed = time.perf_counter() - start
    if not tail.rstrip().endswith(SENTINELS[0]):
        raise RuntimeError(f"throughput stream ended oddly: {tail!r}")
    return size / elapsed / 1e6, size


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke check)")
    args = parser.parse_args()
    seconds = 1.5 if args.quick else 3.0
    repeats = 1 if args.quick else 3
    streams = 500
    lines = 100_000
    concurrency = 16

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        root = Path(tmp)
        (root / "mesh.toml").write_text(MESH_TOML.format(argv=json.dumps(FIREHOSE)))
        gw = LocalMeshGateway(
            port=0,
            backend="embedded",
            config=root / "mesh.toml",
            artifacts_dir=root / "artifacts",
            env={"AGENTFM_API_KEYS": None},
            startup_timeout=60,
        )
        with gw:
            listing = httpx.get(f"{gw.url}/api/workers", timeout=30)
            agents = listing.json()["agents"]
            echo = [a["peer_id"] for a in agents if a["name"].startswith("Echo #")]
            firehose = next(a["peer_id"] for a in agents if a["name"] == "Firehose")
            print(
                f"gateway {gw.url}: {len(agents)} workers, /api/workers body "
                f"{len(listing.content) / 1e3:.0f} kB; cores: {os.cpu_count()}",
                flush=True,
            )

            # Ours and the peer take turns, best of each: the machine may be shared, and a
            # neighbour's burst should not land on one side only.
            with raw_server(root, listing.content) as raw_url:
                rps: dict[str, list[tuple[float, int]]] = {"ours": [], "raw": []}
                walls: dict[str, list[tuple[float, int]]] = {"ours": [], "raw": []}
                asyncio.run(concurrent_streams(gw.url, echo, 50))  # warm-up
                for _ in range(repeats):
                    for side, url in (("ours", gw.url), ("raw", raw_url)):
                        rps[side].append(asyncio.run(requests_per_s(url, seconds, concurrency)))
                        walls[side].append(asyncio.run(concurrent_streams(url, echo, streams)))

            mbs: dict[str, list[float]] = {"ours": [], "raw": []}
            for _ in range(repeats):
                mbs["ours"].append(asyncio.run(gateway_throughput(gw.url, firehose, lines))[0])
                rate, size = pipe_throughput(lines)
                mbs["raw"].append(rate)

    ours_rps, raw_rps = (max(r for r, _ in rps[side]) for side in ("ours", "raw"))
    ours_err, raw_err = (sum(e for _, e in rps[side]) for side in ("ours", "raw"))
    ours_wall, raw_wall = (min(w for w, _ in walls[side]) for side in ("ours", "raw"))
    ours_stream_err, raw_stream_err = (sum(e for _, e in walls[side]) for side in ("ours", "raw"))
    rows = [
        Row("/api/workers, 1,000 workers", ours_rps, raw_rps, "req/s",
            note=f"{concurrency} conns, best of {repeats}, errors {ours_err}/{raw_err}"),
        Row(f"{streams} concurrent /api/execute", ours_wall, raw_wall, "s wall",
            higher_is_better=False, note=f"held to completion, best of {repeats}"),
        Row(f"{streams} streams, errors", ours_stream_err, raw_stream_err, "count",
            higher_is_better=False, note=f"summed over {repeats} run(s)"),
        Row(f"1 agent, {lines:,} lines", max(mbs["ours"]), max(mbs["raw"]), "MB/s",
            note=f"{size / 1e6:.1f} MB, best of {repeats}; peer = raw stdout pipe"),
    ]  # fmt: skip
    print_table("bench_gateway (ours = embedded gateway; baseline = raw ASGI app / raw pipe)",
                rows, ours="gateway", peer="baseline")  # fmt: skip
    return 1 if ours_err or ours_stream_err else 0


if __name__ == "__main__":
    raise SystemExit(main())
