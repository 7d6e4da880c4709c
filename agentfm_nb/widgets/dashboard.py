"""``MeshDashboard``: the mesh's trends at a glance (front end: ``js/widgets/dashboard.ts``).

Tasks per minute, p50/p95 latency, success rate and online workers over time, from the
gateway's ``/metrics`` (what any AgentFM gateway serves: task counters by status, the duration
histogram, the online gauge) and ``/v1/events`` (``task_finished`` with its duration, where the
gateway publishes it, gives exact percentiles instead of histogram-bucket estimates). Rates are
over a sliding minute. Samples travel as small ``sample`` messages; the ``series`` trait keeps
the whole window for saved notebooks, refreshed every few seconds and when a cell publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import traitlets as t

from agentfm_nb.errors import AgentFMError
from agentfm_nb.widgets._base import BaseWidget, make_async_client, safe_url
from agentfm_nb.widgets.task_history import publish_later

RATE_WINDOW_S = 60.0
_SNAPSHOT_EVERY_S = 5.0
_OK = frozenset({"ok", "success", "succeeded", "done", "completed"})
SERIES = ("tasks_per_min", "p50_s", "p95_s", "success_rate", "online")


@dataclass(slots=True)
class Scrape:
    """What one ``/metrics`` read says (cumulative counters)."""

    at: float
    total: float = 0.0
    ok: float = 0.0
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative count)
    online: float | None = None


def parse_metrics(text: str, at: float) -> Scrape:
    """The task counters, duration histogram and online gauge of a Prometheus text page."""
    from prometheus_client.parser import text_string_to_metric_families

    scrape = Scrape(at=at)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "agentfm_tasks_total":
                scrape.total += s.value
                if str(s.labels.get("status", "")).lower() in _OK:
                    scrape.ok += s.value
            elif s.name == "agentfm_task_duration_seconds_bucket":
                le = s.labels.get("le", "+Inf")
                scrape.buckets.append((math.inf if le == "+Inf" else float(le), s.value))
            elif s.name == "agentfm_workers_online":
                scrape.online = s.value
    scrape.buckets.sort()
    return scrape


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus-style quantile estimate from cumulative buckets (linear inside a bucket)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_le, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower_le  # beyond the last finite bucket: its bound is all we know
            span = count - lower_count
            frac = (rank - lower_count) / span if span > 0 else 1.0
            return lower_le + (le - lower_le) * frac
        lower_le, lower_count = le, count
    return None


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class MeshDashboard(BaseWidget):
    """Tasks/min, p50/p95 latency, success rate and online workers as live sparklines."""

    _bundle = "dashboard"

    series = t.Dict().tag(sync=True)
    summary = t.Dict().tag(sync=True)

    def __init__(
        self,
        client: Any = None,
        *,
        interval: float = 2.0,
        window_s: float = 900.0,
        live: bool = True,
    ) -> None:
        super().__init__()
        self._client = client
        self._interval = min(max(float(interval), 0.25), 30.0)
        self._window = max(float(window_s), 60.0)
        self._scrapes: deque[Scrape] = deque()
        self._finished: deque[tuple[float, float, bool]] = deque()  # (at, duration_s, ok)
        self._events_seen = False
        size = int(self._window / self._interval) + 4
        self._samples: deque[dict[str, float | None]] = deque(maxlen=size)
        self._last_snapshot = 0.0
        self.stats = {"samples": 0, "scrapes": 0}
        self.summary = {"state": "connecting", "gateway_url": ""}
        self._publish_series()
        self._submit(self._run(live))

    # --- public -------------------------------------------------------------------------------
    @property
    def dataframe(self) -> Any:
        """One row per sample: time (UTC), tasks_per_min, p50_s, p95_s, success_rate, online."""
        import pandas as pd

        with self._lock:
            rows = list(self._samples)
        frame = pd.DataFrame(rows, columns=["t", *SERIES]).astype(float)
        frame.insert(0, "time", pd.to_datetime(frame.pop("t"), unit="s", utc=True))
        return frame

    def stop(self) -> None:
        """Stop sampling (the dashboard keeps its curves)."""
        self._cancel_all()
        with self._lock:
            self.summary = {**self.summary, "state": "stopped"}
            self._publish_series()
        self.refresh_display()

    # --- sampling ------------------------------------------------------------------------------
    async def _run(self, live: bool) -> None:
        client = make_async_client(self._client)
        url = safe_url(client.gateway_url)
        watcher = asyncio.create_task(self._watch(client)) if live else None
        try:
            while True:
                await self._tick(client, url)
                if not live:
                    break
                await asyncio.sleep(self._interval)
        finally:
            if watcher is not None:
                watcher.cancel()
        self.refresh_display()

    async def _watch(self, client: Any) -> None:
        while True:
            with contextlib.suppress(AgentFMError):
                async for event in client.events.stream():
                    if event.name == "task_finished" and "duration_s" in event.data:
                        self._events_seen = True
                        status = str(event.data.get("status", "")).lower()
                        duration = float(event.data.get("duration_s") or 0.0)
                        with self._lock:
                            self._finished.append((time.time(), duration, status in _OK))
            await asyncio.sleep(2.0)

    async def _tick(self, client: Any, url: str) -> None:
        now = time.time()
        try:
            response = await client._transport.request("GET", "/metrics")
            scrape = parse_metrics(response.text, now)
            if scrape.online is None:
                health = await client.health()
                scrape.online = float(health.get("online_workers", 0))
        except (AgentFMError, ValueError) as exc:
            message = exc.message if isinstance(exc, AgentFMError) else f"bad /metrics: {exc}"
            before = self.summary.get("state")
            self.summary = {**self.summary, "state": "unreachable", "error": message[:200]}
            if before != "unreachable":
                self.refresh_display()
            return
        with self._lock:
            sample = self._sample(scrape)
            before = self.summary.get("state")
            self.summary = {
                "state": "live",
                "gateway_url": url,
                "tasks_total": scrape.total,
                "tasks_ok": scrape.ok,
                "latency_source": "events" if self._events_seen else "histogram",
                **{k: sample[k] for k in SERIES},
            }
            self._emit({"kind": "sample", "sample": sample})
            self.stats["samples"] += 1
            snapshot = time.monotonic() - self._last_snapshot >= _SNAPSHOT_EVERY_S
            if snapshot:
                self._publish_series()
        if before != "live":
            self.refresh_display()  # first sample: the fallback says live
        elif snapshot:
            publish_later(self)  # the next cell's end saves the curves

    def _sample(self, scrape: Scrape) -> dict[str, float | None]:
        self._scrapes.append(scrape)
        self.stats["scrapes"] += 1
        # keep one scrape at least a minute old as the base of the sliding rates
        while len(self._scrapes) > 2 and self._scrapes[1].at <= scrape.at - RATE_WINDOW_S:
            self._scrapes.popleft()
        while self._finished and self._finished[0][0] < scrape.at - RATE_WINDOW_S:
            self._finished.popleft()
        base = self._scrapes[0]
        span = scrape.at - base.at
        done = scrape.total - base.total
        rate = done / span * 60.0 if span > 0 else None
        success = (scrape.ok - base.ok) / done if done > 0 else None
        p50 = p95 = None
        durations = [d for _, d, _ in self._finished]
        if durations:
            p50, p95 = _quantile(durations, 0.5), _quantile(durations, 0.95)
        elif scrape.buckets and base.buckets and len(base.buckets) == len(scrape.buckets):
            delta = [
                (le, c - b) for (le, c), (_, b) in zip(scrape.buckets, base.buckets, strict=True)
            ]
            p50, p95 = histogram_quantile(0.5, delta), histogram_quantile(0.95, delta)
        sample: dict[str, float | None] = {
            "t": round(scrape.at, 2),
            "tasks_per_min": None if rate is None else round(rate, 2),
            "p50_s": None if p50 is None else round(p50, 4),
            "p95_s": None if p95 is None else round(p95, 4),
            "success_rate": None if success is None else round(success, 4),
            "online": scrape.online,
        }
        self._samples.append(sample)
        return sample

    def _publish_series(self) -> None:
        rows = list(self._samples)
        self.series = {
            "t": [r["t"] for r in rows],
            **{k: [r[k] for r in rows] for k in SERIES},
            "window_s": self._window,
        }
        self._last_snapshot = time.monotonic()
        self._stamp()

    def _before_publish(self) -> None:
        self._publish_series()

    def _on_resync(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with self._lock:
            self._publish_series()

    # --- fallbacks ----------------------------------------------------------------------------
    def _fallback_text(self) -> str:
        s = self.summary

        def show(key: str, fmt: str) -> str:
            value = s.get(key)
            return "–" if value is None else format(value, fmt)

        return (
            f"MeshDashboard ({s.get('state', '?')}) at {s.get('gateway_url', '')}: "
            f"{show('tasks_per_min', '.1f')} tasks/min, p50 {show('p50_s', '.2f')}s, "
            f"p95 {show('p95_s', '.2f')}s, success {show('success_rate', '.0%')}, "
            f"{show('online', '.0f')} online"
        )

    def _fallback_html(self) -> str:
        return f"<div><b>{html.escape(self._fallback_text())}</b></div>"


__all__ = ["MeshDashboard", "histogram_quantile", "parse_metrics"]
