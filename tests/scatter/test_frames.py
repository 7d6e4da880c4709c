"""Typed DataFrames of scatter rows and workers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agentfm_nb.client.models import WorkerProfile, parse_workers
from agentfm_nb.scatter import ScatterResult, ScatterResults
from agentfm_nb.scatter.frames import workers_to_dataframe

WIRE = {
    "success": True,
    "agents": [
        {
            "peer_id": "12D3KooWA",
            "author": "alice",
            "name": "Poet",
            "status": "AVAILABLE",
            "hardware": "llama3.2 (CPU: 12 Cores)",
            "description": "poems",
            "cpu_usage_pct": 24.0,
            "ram_free_gb": 12.5,
            "current_tasks": 1,
            "max_tasks": 4,
            "has_gpu": False,
            "honesty_score": 0.42,
            "online": True,
            "last_seen": "2026-07-09T15:50:00Z",
            "brand_new_field": "ignored",
        },
        {"peer_id": "12D3KooWB", "name": "Echo", "hardware": "echo", "status": "BUSY"},
    ],
}


def test_results_frame_has_typed_columns_in_order() -> None:
    rows = ScatterResults(
        [
            ScatterResult("a", "P1", "success", "A!", [Path("/tmp/x.md")], None, 0, 1, 0.5),
            ScatterResult("b", "P2", "failed", "", [], "boom", 1, 3, 1.5, "WorkerStreamError"),
            ScatterResult("c", None, "cancelled", index=2, error="cancelled before it finished"),
        ]
    )
    df = rows.to_dataframe()
    assert list(df.columns[:8]) == [
        "prompt",
        "status",
        "text",
        "worker_id",
        "error",
        "attempts",
        "latency_s",
        "artifacts",
    ]
    assert df["prompt"].dtype == "string"
    assert list(df["status"].cat.categories) == ["success", "failed", "cancelled"]
    assert df["attempts"].dtype == "Int64" and df["latency_s"].dtype == "Float64"
    assert df.loc[0, "text"] == "A!"
    assert df["text"].isna().tolist() == [False, True, True]  # no fake "" for failures
    assert pd.isna(df.loc[2, "worker_id"])
    assert df.loc[0, "artifacts"] == [Path("/tmp/x.md")]
    assert df.loc[1, "error_type"] == "WorkerStreamError"
    assert df.index.tolist() == [0, 1, 2]
    assert rows.counts() == {"success": 1, "failed": 1, "cancelled": 1}
    assert [r.prompt for r in rows.failed] == ["b", "c"]


def test_result_set_without_retry_function_says_so() -> None:
    with pytest.raises(RuntimeError, match="no retry function"):
        ScatterResults([ScatterResult("a", status="failed")]).retry_failed()


def test_slicing_keeps_the_result_type() -> None:
    rows = ScatterResults([ScatterResult(str(i), index=i) for i in range(4)])
    assert isinstance(rows[1:3], ScatterResults)
    assert rows[1:3].to_dataframe().index.tolist() == [1, 2]


@pytest.mark.parametrize("source", ["profiles", "wire"])
def test_workers_frame(source: str) -> None:
    workers = parse_workers(WIRE) if source == "profiles" else WIRE["agents"]
    df = workers_to_dataframe(workers)  # type: ignore[arg-type]
    assert len(df) == 2
    assert df["engine"].tolist() == ["llama3.2", "echo"]
    assert df["current_tasks"].dtype == "Int64" and df["cpu_usage_pct"].dtype == "Float64"
    assert df["online"].dtype == "boolean" and df["peer_id"].dtype == "string"
    assert str(df["last_seen"].dtype) == "datetime64[ns, UTC]"
    assert df.loc[0, "load_ratio"] == 0.25
    assert df.loc[0, "last_seen"] == pd.Timestamp("2026-07-09T15:50:00Z")
    assert "brand_new_field" not in df.columns
    if source == "wire":  # fields a raw dict lacks are NA, not invented defaults
        assert pd.isna(df.loc[1, "current_tasks"])
    assert isinstance(workers[0], WorkerProfile) == (source == "profiles")


def test_empty_frames_keep_their_columns() -> None:
    assert list(workers_to_dataframe([]).columns)[:3] == ["peer_id", "name", "engine"]
    assert ScatterResults().to_dataframe().empty
