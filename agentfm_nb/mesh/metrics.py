"""Prometheus metrics of one gateway app: the real gateway's families, labels and counting.

A per-app ``CollectorRegistry`` keeps several in-process apps (tests, benches) from colliding on
the global default registry. Every labelled series is created up front (as ``metrics.go`` does)
so a fresh gateway scrapes as zeros rather than as missing data.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

# The text exposition format the real gateway's promhttp handler answers with.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TASK_STATUSES = ("ok", "error", "rejected", "timeout")
STREAM_PROTOCOLS = ("task", "artifacts", "feedback")
STREAM_REASONS = (
    "decode",
    "deadline",
    "reset",
    "peer_eof",
    "capacity_rejected",
    "version_mismatch",
    "unknown",
)
DHT_OPS = ("find_peer", "provide", "get_value")
AUTH_OUTCOMES = ("ok", "missing", "malformed", "invalid", "rate_limited")
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 180.0, 300.0, 600.0, 1800.0)


class GatewayMetrics:
    """The families of ``agentfm-go/internal/metrics``, plus process and Python runtime ones."""

    def __init__(self, workers_online: Callable[[], float] | None = None) -> None:
        # The *_created series only add noise to a gateway's scrape.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.tasks = Counter(
            "agentfm_tasks",
            "Number of task executions, partitioned by terminal status.",
            ["status"],
            registry=registry,
        )
        self.task_duration = Histogram(
            "agentfm_task_duration_seconds",
            "Wall-clock task duration in seconds.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.workers_online = Gauge(
            "agentfm_workers_online",
            "Number of workers currently visible in this node's telemetry.",
            registry=registry,
        )
        if workers_online is not None:
            self.workers_online.set_function(workers_online)
        self.artifact_bytes_sent = Counter(
            "agentfm_artifact_bytes_sent",
            "Cumulative bytes shipped over the artifact protocol.",
            registry=registry,
        )
        self.artifacts_built = Counter(
            "agentfm_artifacts_built",
            "Cumulative artifact zips received and persisted.",
            registry=registry,
        )
        self.stream_errors = Counter(
            "agentfm_stream_errors",
            "Stream-level failures on AgentFM libp2p protocols.",
            ["protocol", "reason"],
            registry=registry,
        )
        self.dht_queries = Counter(
            "agentfm_dht_queries",
            "DHT operations served by this relay, partitioned by op.",
            ["op"],
            registry=registry,
        )
        self.auth_attempts = Counter(
            "agentfm_auth_attempts",
            "Bearer-auth attempts on the boss HTTP gateway, by outcome.",
            ["outcome"],
            registry=registry,
        )
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        # the labelled children, looked up once: ``labels()`` costs more than ``inc()``
        self._task_counts = {status: self.tasks.labels(status=status) for status in TASK_STATUSES}
        for protocol in STREAM_PROTOCOLS:
            for reason in STREAM_REASONS:
                self.stream_errors.labels(protocol=protocol, reason=reason)
        self._capacity_rejected = self.stream_errors.labels(
            protocol="task", reason="capacity_rejected"
        )
        for op in DHT_OPS:
            self.dht_queries.labels(op=op)
        self._auth_counts = {o: self.auth_attempts.labels(outcome=o) for o in AUTH_OUTCOMES}

    def task(self, status: str, duration_s: float | None) -> None:
        """One task counted with its terminal status (and its duration, where the boss
        observes one)."""
        child = self._task_counts.get(status)
        (child or self.tasks.labels(status=status)).inc()
        if duration_s is not None:
            self.task_duration.observe(duration_s)

    def task_finished(self, status: str, *, protocol: str, artifact: bool = False) -> None:
        """A run left its context: count what its worker would (the boss counts the task)."""
        if artifact:
            self.artifacts_built.inc()

    def auth(self, outcome: str) -> None:
        """One bearer-auth attempt counted by its outcome."""
        child = self._auth_counts.get(outcome)
        (child or self.auth_attempts.labels(outcome=outcome)).inc()

    def capacity_rejected(self) -> None:
        self._capacity_rejected.inc()

    def render(self, accept_encoding: str = "") -> tuple[bytes, dict[str, str]]:
        """The scrape body and its headers (gzip when the scraper asks for it)."""
        body = bytes(generate_latest(self.registry))
        headers = {"content-type": CONTENT_TYPE}
        if "gzip" in accept_encoding.lower():
            body = gzip.compress(body, 1)
            headers["content-encoding"] = "gzip"
        return body, headers
