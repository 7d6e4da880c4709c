"""Embedded gateway speed, side by side with a raw baseline: ``python bench/bench_gateway.py``.

1. ``GET /api/workers`` requests/s with 1,000 registered workers, against a bare ASGI app on the
   same uvicorn serving the same pre-serialized bytes; once quiet, once under task churn (tasks
   starting and finishing on the same server while the list is read).
2. 500 and 2,000 concurrent ``POST /api/execute`` streams on zero-work echo agents held to
   completion (errors, wall time), against the bare app answering the same bytes.
3. Streaming throughput of one agent printing 100,000 lines through ``/api/execute``, against
   reading the same agent's stdout pipe directly.

Each round runs every figure for both sides, alternating which side goes first; the table shows
medians over the rounds and the spread of the per-round ratios. Everything runs on loopback with
free ports and stops by itself; ``--quick`` is one short round. Numbers are from the one machine
they ran on: read the ratio column, not the absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import httpx
import psutil

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
max_tasks = 3
count = 1000

[[workers]]
name = "Firehose"
engine = "firehose"
author = "bench"
kind = "command"
argv = {argv}
"""

# The peer: the least an ASGI app on the same server stack can do for the same requests. Its
# /api/execute answers the bytes a real worker sends for an echo agent.
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
        await send({"type": "http.response.body", "body": b"\\n[AGENTFM: NO_FILES]\\n"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": JSON})
    await send({"type": "http.response.body", "body": BODY})


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            access_log=False, http=sys.argv[3], loop="asyncio", lifespan="on",
            backlog=4096)
"""


def http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


@contextmanager
def raw_server(root: Path, body: bytes) -> Iterator[tuple[str, int]]:
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
        yield url, proc.pid
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


async def requests_per_s(
    url: str, seconds: float, concurrency: int, churn: list[str] | None = None
) -> tuple[float, int, float]:
    """(list req/s, errors, churn tasks/s): readers for ``seconds``, optionally with tasks
    starting and finishing on the ``churn`` workers meanwhile (``CHURN_RATE`` a second)."""
    done = 0
    errors = 0
    tasks = 0
    connector = aiohttp.TCPConnector(limit=concurrency + CHURN_STREAMS)
    async with aiohttp.ClientSession(url, connector=connector) as http:
        async with http.get("/api/workers") as resp:  # warm the connection and any cache
            await resp.read()
        deadline = time.perf_counter() + seconds

        async def reader() -> None:
            nonlocal done, errors
            while time.perf_counter() < deadline:
                async with http.get("/api/workers") as resp:
                    body = await resp.read()
                if resp.status == 200 and body:
                    done += 1
                else:
                    errors += 1

        async def churner(peers: list[str]) -> None:
            # paced, so both sides get the same churn however fast each runs tasks
            nonlocal tasks, errors
            interval = CHURN_STREAMS / CHURN_RATE
            i = 0
            next_at = time.perf_counter()
            while time.perf_counter() < deadline:
                body = {"worker_id": peers[i % len(peers)], "prompt": "churn"}
                i += 1
                async with http.post("/api/execute", json=body) as resp:
                    data = await resp.read()
                if resp.status == 200 and data.endswith(SENTINELS[0] + b"\n"):
                    tasks += 1
                else:
                    errors += 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

        jobs = [reader() for _ in range(concurrency)]
        if churn:
            # each churner owns its own workers: a task never waits for a busy slot
            jobs += [churner(churn[k::CHURN_STREAMS]) for k in range(CHURN_STREAMS)]
        start = time.perf_counter()
        await asyncio.gather(*jobs)
        elapsed = time.perf_counter() - start
    return done / elapsed, errors, tasks / elapsed


# ----------------------------------------------------------------------------- 2. streams


async def concurrent_streams(url: str, peers: list[str], n: int) -> tuple[float, int]:
    """(wall s, errors) for ``n`` streams at once, each checked byte for byte."""
    errors = 0
    timeout = aiohttp.ClientTimeout(total=300)

    async def one(http: aiohttp.ClientSession, i: int) -> None:
        nonlocal errors
        body = {"worker_id": peers[i % len(peers)], "prompt": f"prompt {i}"}
        try:
            async with http.post("/api/execute", json=body) as resp:
                data = await resp.read()
            if resp.status != 200 or data != f"prompt {i}\n\n".encode() + SENTINELS[0] + b"\n":
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
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(url, timeout=timeout) as http:
        start = time.perf_counter()
        body = {"worker_id": peer, "prompt": str(lines)}
        async with http.post("/api/execute", json=body) as resp:
            async for chunk in resp.content.iter_any():
                size += len(chunk)
                tail = (tail + chunk)[-64:]
        elapsed = time.perf_counter() - start
    if not tail.endswith(b"\n\n" + SENTINELS[0] + b"\n"):
        raise RuntimeError(f"throughput stream ended oddly: {tail!r}")
    return size / elapsed / 1e6, size


# ----------------------------------------------------------------------------- main


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds the server process has used (user + system): unlike wall time, hardly moved
    by whatever else runs on the machine."""
    times = proc.cpu_times()
    return float(times.user + times.system)


CHURN_STREAMS = 8
CHURN_RATE = 100.0  # tasks started (and finished) per second while the list is read


class Figure:
    """One metric's samples per side, paired by round."""

    def __init__(self) -> None:
        self.ours: list[float] = []
        self.peer: list[float] = []

    def add(self, ours: float, peer: float) -> None:
        self.ours.append(ours)
        self.peer.append(peer)

    def row(self, metric: str, unit: str, *, higher: bool = True, note: str = "") -> Row:
        ratios = [o / p for o, p in zip(self.ours, self.peer, strict=True) if p]
        spread = f"ratio {min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""
        detail = ", ".join(x for x in (f"median of {len(self.ours)}", spread, note) if x)
        return Row(
            metric,
            statistics.median(self.ours),
            statistics.median(self.peer),
            unit,
            higher_is_better=higher,
            note=detail,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short round (a smoke check)")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (default 3)")
    args = parser.parse_args()
    seconds = 1.5 if args.quick else 3.0
    rounds = 1 if args.quick else args.rounds
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
            log_file=root / "gateway.log",
            env={"AGENTFM_API_KEYS": None},
            startup_timeout=60,
        )
        with gw:
            listing = httpx.get(f"{gw.url}/api/workers", timeout=30)
            agents = listing.json()["agents"]
            echo = [a["peer_id"] for a in agents if a["name"].startswith("Echo #")]
            firehose = next(a["peer_id"] for a in agents if a["name"] == "Firehose")
            churn = echo[:64]
            print(
                f"gateway {gw.url}: {len(agents)} workers, /api/workers body "
                f"{len(listing.content) / 1e3:.0f} kB; cores: {os.cpu_count()}; "
                f"{rounds} round(s)",
                flush=True,
            )
            keys = ("rps", "churn", "w500", "w2000", "mbs", "cpu_rps", "cpu500")
            figures = {k: Figure() for k in keys}
            errors = {"ours": 0, "peer": 0}
            churn_rates: list[float] = []
            assert gw.pid is not None
            with raw_server(root, listing.content) as (raw_url, raw_pid):
                sides = {"ours": gw.url, "peer": raw_url}
                server = {"ours": psutil.Process(gw.pid), "peer": psutil.Process(raw_pid)}
                for url in sides.values():  # warm both: imports, caches, connection paths
                    asyncio.run(concurrent_streams(url, echo, 200))
                    asyncio.run(requests_per_s(url, 0.5, concurrency, churn))
                for r in range(rounds):
                    order = ["ours", "peer"] if r % 2 == 0 else ["peer", "ours"]
                    got: dict[str, dict[str, float]] = {side: {} for side in order}
                    for side in order:
                        url = sides[side]
                        cpu = _cpu(server[side])
                        rps, err, _ = asyncio.run(requests_per_s(url, seconds, concurrency))
                        got[side]["cpu_rps"] = (_cpu(server[side]) - cpu) / (rps * seconds) * 1e3
                        got[side]["rps"] = rps
                        errors[side] += err
                        rps, err, rate = asyncio.run(
                            requests_per_s(url, seconds, concurrency, churn)
                        )
                        got[side]["churn"] = rps
                        errors[side] += err
                        if side == "ours":
                            churn_rates.append(rate)
                        for n in (500, 2000):
                            cpu = _cpu(server[side])
                            wall, err = asyncio.run(concurrent_streams(url, echo, n))
                            if n == 500:
                                got[side]["cpu500"] = (_cpu(server[side]) - cpu) / n * 1e3
                            got[side][f"w{n}"] = wall
                            errors[side] += err
                    for key in ("rps", "churn", "w500", "w2000", "cpu_rps", "cpu500"):
                        figures[key].add(got["ours"][key], got["peer"][key])
                    print(f"round {r + 1}/{rounds} done", flush=True)

            size = 0
            for r in range(rounds):
                if r % 2:
                    rate, size = pipe_throughput(lines)
                    ours_rate = asyncio.run(gateway_throughput(gw.url, firehose, lines))[0]
                else:
                    ours_rate = asyncio.run(gateway_throughput(gw.url, firehose, lines))[0]
                    rate, size = pipe_throughput(lines)
                figures["mbs"].add(ours_rate, rate)

    f = figures
    rows = [
        f["rps"].row("/api/workers, 1,000 workers", "req/s", note=f"{concurrency} conns"),
        f["churn"].row(
            "/api/workers under task churn",
            "req/s",
            note=f"{CHURN_STREAMS} task loops paced to {CHURN_RATE:.0f} tasks/s, ours got "
            f"{statistics.median(churn_rates):.0f}",
        ),
        f["cpu_rps"].row("  server CPU per /api/workers read", "ms", higher=False),
        f["w500"].row("500 concurrent /api/execute", "s wall", higher=False),
        f["cpu500"].row("  server CPU per stream", "ms", higher=False,
                        note="the least load-sensitive figure"),
        f["w2000"].row("2,000 concurrent /api/execute", "s wall", higher=False),
        Row("stream errors (all of the above)", errors["ours"], errors["peer"], "count",
            higher_is_better=False, note=f"summed over {rounds} round(s)"),
        f["mbs"].row(f"1 agent, {lines:,} lines", "MB/s",
                     note=f"{size / 1e6:.1f} MB; peer = raw stdout pipe"),
    ]  # fmt: skip
    print_table("bench_gateway (ours = embedded gateway; baseline = raw ASGI app / raw pipe)",
                rows, ours="gateway", peer="baseline")  # fmt: skip
    return 1 if errors["ours"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
