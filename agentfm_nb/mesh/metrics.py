"""Prometheus counters of one gateway app, on a registry of its own.

A per-app ``CollectorRegistry`` keeps several in-process apps (tests, benches) from colliding on
the global default registry.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics"]


class GatewayMetrics:
    """The four counters the real gateway exports."""

    def __init__(self) -> None:
        # The *_created series only add noise to a gateway's scrape.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        self.tasks = Counter(
            "agentfm_tasks",
            "Tasks finished, by outcome.",
            ["status"],
            registry=self.registry,
        )
        self.stream_errors = Counter(
            "agentfm_stream_errors",
            "Streams that ended in an error, by protocol.",
            ["protocol"],
            registry=self.registry,
        )
        self.artifacts_built = Counter(
            "agentfm_artifacts_built",
            "Artifact zips written.",
            registry=self.registry,
        )
        self.auth_attempts = Counter(
            "agentfm_auth_attempts",
            "Authentication attempts, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        # Pre-create the labelled series so a scrape shows zeros rather than nothing.
        for status in ("ok", "error"):
            self.tasks.labels(status=status)
        for protocol in ("api", "openai"):
            self.stream_errors.labels(protocol=protocol)
        for outcome in ("ok", "missing", "invalid", "rate_limited"):
            self.auth_attempts.labels(outcome=outcome)

    def task_finished(self, status: str, *, protocol: str, artifact: bool = False) -> None:
        self.tasks.labels(status="ok" if status == "ok" else "error").inc()
        if status != "ok":
            self.stream_errors.labels(protocol=protocol).inc()
        if artifact:
            self.artifacts_built.inc()

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
