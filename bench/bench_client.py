"""Client benchmark: our client against the official ``agentfm-sdk`` 0.3.0, same gateway, one run.

    python bench/bench_client.py [--quick]

One embedded gateway (``LocalMeshGateway``) serves three groups of ``kind = "python"`` workers
defined in this file (python agents keep the numbers about client scheduling, not process spawn):

1. scatter over 16 workers (``max_tasks`` 4) whose agent awaits ``asyncio.sleep(0.02)``: wall time
   of ours (default concurrency = free slots) and of the SDK at several ``max_concurrency``
   values, each against the ideal ``n * 0.02 / 64``;
2. the same with zero-work agents: tasks/s and client CPU seconds per 1,000 tasks
   (``time.process_time``: every thread of this process, the portal / SDK pool included);
3. streaming 100,000 lines: ``tasks.stream`` against raw ``httpx`` reading the same
   ``/api/execute`` response;
4. the scale point: 20,000 zero-work prompts over 256 workers (``max_tasks`` 4, 1,024 slots):
   our default scatter (every slot, at most 512 in flight) against the SDK at
   ``max_concurrency`` 64 and 256 (its best is the peer), the two alternating run by run; our
   cost per task at 64 in flight and by default; client RSS over 30 consecutive scatters.

``--scale-only`` runs only part 4, ``--skip-scale`` parts 1-3; ``--runs N`` repeats part 4's
alternation (median and spread).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

SLEEP_S = 0.02
WORKERS = 16
SCALE_WORKERS = 256
MAX_TASKS = 4
LINE = "x" * 48


# --- agents (imported by the gateway process from this file) --------------------------------


async def sleep_agent(prompt: str) -> str:
    await asyncio.sleep(SLEEP_S)
    return prompt


async def zero_agent(prompt: str) -> str:
    return prompt


async def lines_agent(prompt: str) -> AsyncIterator[str]:
    total = int(prompt)
    batch = 2000
    for start in range(0, total, batch):
        end = min(start + batch, total)
        yield "\n".join(f"{i:06d} {LINE}" for i in range(start, end))


# --- harness ---------------------------------------------------------------------------------


def _config(path: Path) -> str:
    me = Path(__file__).resolve()
    groups = [
        ("Sleep", "sleep", "sleep_agent", WORKERS),
        ("Zero", "zero", "zero_agent", WORKERS),
        ("Scale", "scale", "zero_agent", SCALE_WORKERS),
    ]
    parts = ['seed = "bench-client"\n']
    for name, engine, func, count in groups:
        parts.append(
            f'[[workers]]\nname = "{name}"\nengine = "{engine}"\nauthor = "bench"\n'
            f'kind = "python"\ncallable = "{me}:{func}"\nmax_tasks = {MAX_TASKS}\n'
            f"count = {count}\n"
        )
    parts.append(
        f'[[workers]]\nname = "Lines"\nengine = "lines"\nauthor = "bench"\nkind = "python"\n'
        f'callable = "{me}:lines_agent"\nmax_tasks = 2\n'
    )
    path.write_text("\n".join(parts))
    return str(path)


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall0, time.process_time() - cpu0, out


def _check(rows: Any, n: int, who: str) -> None:
    bad = [r for r in rows if r.status != "success"]
    if len(rows) != n or bad:
        first = bad[0].error if bad else "wrong row count"
        raise SystemExit(f"{who}: {len(bad)} of {n} prompts failed ({first})")


def _scale(ours: Any, sdk: Any, peers: list[str], args: Any) -> tuple[list[Any], list[str]]:
    """Part 4: 20,000 zero-work prompts over 256 x 4 slots, ours and the SDK alternating."""
    import statistics

    import psutil
    from _table import Row

    n = 5000 if args.quick else 20_000
    prompts = [f"s{i}" for i in range(n)]
    assert len(peers) == SCALE_WORKERS
    _check(ours.tasks.scatter(prompts[:2048], peer_ids=peers), 2048, "ours warm-up")
    _check(sdk.tasks.scatter(prompts[:512], peer_ids=peers, max_concurrency=256), 512, "sdk")
    contenders: dict[str, Callable[[], Any]] = {
        "ours": lambda: ours.tasks.scatter(prompts, peer_ids=peers),
        "sdk64": lambda: sdk.tasks.scatter(prompts, peer_ids=peers, max_concurrency=64),
        "ours64": lambda: ours.tasks.scatter(prompts, peer_ids=peers, max_concurrency=64),
        "sdk256": lambda: sdk.tasks.scatter(prompts, peer_ids=peers, max_concurrency=256),
    }
    rate: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(max(1, args.runs)):
        for name, fn in contenders.items():  # alternate: ours, SDK, ours, SDK
            wall, used, rows = _timed(fn)
            _check(rows, n, name)
            rate[name].append(n / wall)
            cpu[name].append(used * 1000 / n)

    def med(xs: list[float]) -> float:
        return float(statistics.median(xs))

    sdk_best = max(("sdk64", "sdk256"), key=lambda k: med(rate[k]))
    proc = psutil.Process()
    m = 2000
    rss: list[float] = []
    for _ in range(30):
        _check(ours.tasks.scatter(prompts[:m], peer_ids=peers), m, "ours rss")
        rss.append(proc.memory_info().rss / 2**20)
    tail = f"{SCALE_WORKERS} workers x {MAX_TASKS} slots"
    rows = [
        Row(
            f"scale: {n:,} zero-work over {tail}, tasks/s",
            med(rate["ours"]),
            med(rate[sdk_best]),
            "tasks/s",
            note=f"median of {len(rate['ours'])}; SDK best = max_concurrency={sdk_best[3:]}",
        ),
        Row(
            "  client CPU per 1,000 tasks",
            med(cpu["ours"]),
            med(cpu[sdk_best]),
            "s",
            higher_is_better=False,
            note="target <= 0.5 s",
        ),
        Row(
            "  ours: CPU per 1,000 tasks, default vs 64 in flight",
            med(cpu["ours"]),
            med(cpu["ours64"]),
            "s",
            higher_is_better=False,
            note="default: every slot, at most 512; flat = ratio ~1",
        ),
        Row(
            f"  client RSS after scatter 5 vs 30 ({m:,} prompts each)",
            rss[-1],
            rss[4],
            "MiB",
            higher_is_better=False,
            note=f"first {rss[0]:.0f} MiB",
        ),
    ]
    notes = [f"scale point runs ({n:,} prompts each), tasks/s and CPU s/1k: median [min-max]"]
    for name in contenders:
        r, c = rate[name], cpu[name]
        notes.append(
            f"  {name:7s} {med(r):8.0f} [{min(r):.0f}-{max(r):.0f}] tasks/s   "
            f"{med(c):.3f} [{min(c):.3f}-{max(c):.3f}] s/1k"
        )
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--scale-only", action="store_true", help="only the 256-worker point")
    parser.add_argument("--skip-scale", action="store_true", help="parts 1-3 only")
    parser.add_argument("--runs", type=int, default=3, help="alternations at the scale point")
    args = parser.parse_args()
    n = 500 if args.quick else 2000
    n_lines = 20_000 if args.quick else 100_000
    sdk_levels = [16, 64] if args.quick else [8, 16, 32, 64, 128]
    repeats = 1 if args.quick else 2

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import httpx
    import psutil
    from _table import Row, print_table
    from agentfm import AgentFMClient as SdkClient

    from agentfm_nb import LocalMeshGateway
    from agentfm_nb.client import AgentFMClient

    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        root = Path(tmp)
        gw = LocalMeshGateway(
            port=0,
            backend="embedded",
            config=_config(root / "mesh.toml"),
            artifacts_dir=root / "artifacts",
            log_file=root / "gateway.log",
            env={"AGENTFM_API_KEYS": None},
        )
        with (
            gw,
            AgentFMClient(gw.url, api_key=None) as ours,
            SdkClient(gw.url, api_key=None) as sdk,
        ):
            workers = ours.workers.list()
            by_engine: dict[str, list[str]] = {}
            for w in workers:
                by_engine.setdefault(w.engine, []).append(w.peer_id)
            sleepers, zeros, lines_peer = (
                by_engine["sleep"],
                by_engine["zero"],
                by_engine["lines"][0],
            )
            assert len(sleepers) == WORKERS and len(zeros) == WORKERS
            rows: list[Row] = []
            if not args.scale_only:
                prompts = [f"prompt {i}" for i in range(n)]
                ideal = n * SLEEP_S / (WORKERS * MAX_TASKS)

                # warm both (connection pools, imports, the portal thread, the gateway's agents)
                _check(ours.tasks.scatter(prompts[:64], peer_ids=zeros), 64, "ours warm-up")
                _check(
                    sdk.tasks.scatter(prompts[:64], peer_ids=zeros, max_concurrency=16), 64, "sdk"
                )

                # 1. scatter over sleeping agents
                ours_wall = min(
                    _timed(
                        lambda: _check(ours.tasks.scatter(prompts, peer_ids=sleepers), n, "ours")
                    )[0]
                    for _ in range(repeats)
                )
                sdk_walls: dict[int, float] = {}
                for level in sdk_levels:
                    sdk_walls[level] = _timed(
                        lambda lv=level: _check(  # type: ignore[misc]
                            sdk.tasks.scatter(prompts, peer_ids=sleepers, max_concurrency=lv),
                            n,
                            "sdk",
                        )
                    )[0]
                best_level = min(sdk_walls, key=lambda k: sdk_walls[k])
                sdk_best = sdk_walls[best_level]
                rows += [
                    Row(
                        f"scatter {n} x {SLEEP_S * 1000:.0f} ms, wall",
                        ours_wall,
                        sdk_best,
                        "s",
                        higher_is_better=False,
                        note=f"SDK best at max_concurrency={best_level}",
                    ),
                    Row(
                        "  wall / ideal",
                        ours_wall / ideal,
                        sdk_best / ideal,
                        "x",
                        higher_is_better=False,
                        note=f"ideal {ideal:.3f} s = {n}*{SLEEP_S}/{WORKERS * MAX_TASKS} slots",
                    ),
                ]
                for level, wall in sdk_walls.items():
                    rows.append(
                        Row(
                            f"  SDK max_concurrency={level}",
                            ours_wall,
                            wall,
                            "s",
                            higher_is_better=False,
                            note=f"{wall / ideal:.2f}x ideal",
                        )
                    )

                # 2. zero-work agents: throughput and client CPU
                def ours_zero() -> None:
                    _check(ours.tasks.scatter(prompts, peer_ids=zeros), n, "ours")

                def sdk_zero() -> None:
                    _check(
                        sdk.tasks.scatter(prompts, peer_ids=zeros, max_concurrency=best_level),
                        n,
                        "sdk",
                    )

                gw_proc = psutil.Process(gw.pid)

                def gateway_cpu() -> float:
                    t = gw_proc.cpu_times()
                    return float(t.user + t.system)

                g0 = gateway_cpu()
                o_runs = [_timed(ours_zero) for _ in range(repeats)]
                g1 = gateway_cpu()
                s_runs = [_timed(sdk_zero) for _ in range(repeats)]
                g2 = gateway_cpu()
                o_wall, o_cpu = min(w for w, _, _ in o_runs), min(c for _, c, _ in o_runs)
                s_wall, s_cpu = min(w for w, _, _ in s_runs), min(c for _, c, _ in s_runs)
                rows += [
                    Row(f"zero-work scatter {n}, tasks/s", n / o_wall, n / s_wall, "tasks/s"),
                    Row(
                        "  client CPU per 1,000 tasks",
                        o_cpu * 1000 / n,
                        s_cpu * 1000 / n,
                        "s",
                        higher_is_better=False,
                        note="time.process_time, all threads",
                    ),
                    Row(
                        "  gateway CPU per 1,000 tasks",
                        (g1 - g0) * 1000 / (n * repeats),
                        (g2 - g1) * 1000 / (n * repeats),
                        "s",
                        higher_is_better=False,
                        note=f"server side; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
                    ),
                ]

                # 3. streaming n_lines lines
                def ours_stream() -> int:
                    count = 0
                    for chunk in ours.tasks.stream(worker_id=lines_peer, prompt=str(n_lines)):
                        if chunk.kind == "text":
                            count += chunk.text.count("\n")
                    return count

                def raw_stream() -> int:
                    count = 0
                    body = {"worker_id": lines_peer, "prompt": str(n_lines)}
                    with (
                        httpx.Client(timeout=60) as raw,
                        raw.stream("POST", f"{gw.url}/api/execute", json=body) as resp,
                    ):
                        resp.raise_for_status()
                        for line in resp.iter_lines():
                            if not line.startswith("[AGENTFM:"):
                                count += 1
                    return count

                def sdk_stream() -> int:
                    count = 0
                    for chunk in sdk.tasks.stream(worker_id=lines_peer, prompt=str(n_lines)):
                        if chunk.kind == "text":
                            count += chunk.text.count("\n")
                    return count

                best: dict[str, float] = {}
                for _ in range(repeats + 1):
                    for name, fn in (
                        ("ours", ours_stream),
                        ("raw", raw_stream),
                        ("sdk", sdk_stream),
                    ):
                        wall, _, got = _timed(fn)
                        if abs(got - n_lines) > 1:
                            raise SystemExit(f"{name} stream: got {got} lines, expected {n_lines}")
                        best[name] = min(best.get(name, float("inf")), wall)
                rows += [
                    Row(
                        f"stream {n_lines:,} lines",
                        n_lines / best["ours"],
                        n_lines / best["raw"],
                        "lines/s",
                        note="peer = raw httpx iter_lines (target ratio >= 0.8)",
                    ),
                    Row(
                        "  vs SDK tasks.stream",
                        n_lines / best["ours"],
                        n_lines / best["sdk"],
                        "lines/s",
                    ),
                ]
            scale_notes: list[str] = []
            if not args.skip_scale:
                scale_rows, scale_notes = _scale(ours, sdk, by_engine["scale"], args)
                rows += scale_rows

    print_table(
        f"client: agentfm_nb vs agentfm-sdk 0.3.0 ({'quick' if args.quick else 'full'} run, "
        "python-kind agents)",
        rows,
        peer="peer",
    )
    for line in scale_notes:
        print(line)


if __name__ == "__main__":
    main()
