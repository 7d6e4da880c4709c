"""DataFrames of workers and scatter results, with explicit nullable dtypes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

# Whoever builds one of our frames gets ``df.agentfm`` too (the client avoids importing pandas
# until a frame is asked for, so this is where the accessor gets registered by default).
import agentfm_nb.scatter.accessor  # noqa: F401

if TYPE_CHECKING:
    from agentfm_nb.scatter.results import ScatterResult

STATUS_DTYPE = pd.CategoricalDtype(["success", "failed", "cancelled"])

RESULT_COLUMNS: dict[str, Any] = {
    "prompt": "string",
    "status": STATUS_DTYPE,
    "text": "string",
    "worker_id": "string",
    "error": "string",
    "attempts": "Int64",
    "latency_s": "Float64",
    "artifacts": object,
    "error_type": "string",
}

# Wire fields of /api/workers plus the parsed engine; "string" / nullable numbers so a missing
# value is NA rather than a silent 0 or "None".
WORKER_COLUMNS: dict[str, Any] = {
    "peer_id": "string",
    "name": "string",
    "engine": "string",
    "author": "string",
    "status": "category",
    "current_tasks": "Int64",
    "max_tasks": "Int64",
    "load_ratio": "Float64",
    "cpu_usage_pct": "Float64",
    "ram_free_gb": "Float64",
    "has_gpu": "boolean",
    "gpu_used_gb": "Float64",
    "gpu_total_gb": "Float64",
    "gpu_usage_pct": "Float64",
    "honesty_score": "Float64",
    "is_equivocator": "boolean",
    "dispatch_allowed": "boolean",
    "online": "boolean",
    "hardware": "string",
    "description": "string",
    "last_seen": "datetime64[ns, UTC]",
}


def results_to_dataframe(results: Sequence[ScatterResult]) -> pd.DataFrame:
    """One row per prompt, indexed by the prompt's position in the batch."""
    data: dict[str, list[Any]] = {name: [] for name in RESULT_COLUMNS}
    index: list[int] = []
    for r in results:
        index.append(r.index)
        data["prompt"].append(r.prompt)
        data["status"].append(r.status)
        data["text"].append(r.text if r.status == "success" else None)
        data["worker_id"].append(r.worker_id)
        data["error"].append(r.error)
        data["attempts"].append(r.attempts)
        data["latency_s"].append(r.latency_s)
        data["artifacts"].append(list(r.artifacts))
        data["error_type"].append(r.error_type)
    frame: pd.DataFrame = pd.DataFrame(
        {name: pd.Series(values, dtype=RESULT_COLUMNS[name]) for name, values in data.items()}
    )
    frame.index = pd.Index(index, name="index", dtype="int64")
    return frame


def _field(worker: Any, name: str) -> Any:
    if isinstance(worker, dict):
        if name == "engine":
            hardware = str(worker.get("hardware") or "")
            cut = hardware.find(" (")
            return hardware[:cut] if cut > 0 else hardware or None
        if name == "load_ratio":
            cur, top = worker.get("current_tasks"), worker.get("max_tasks")
            return cur / top if isinstance(cur, int) and isinstance(top, int) and top else None
        return worker.get(name)
    return getattr(worker, name, None)


def workers_to_dataframe(workers: Iterable[Any]) -> pd.DataFrame:
    """Workers (``WorkerProfile`` objects or raw wire dicts) as a typed frame, one row each."""
    rows = list(workers)
    data = {name: [_field(w, name) for w in rows] for name in WORKER_COLUMNS}
    columns: dict[str, pd.Series[Any]] = {}
    for name, dtype in WORKER_COLUMNS.items():
        values = data[name]
        if name == "last_seen":
            stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce")
            columns[name] = stamps.astype(dtype)
        else:
            columns[name] = pd.Series(values, dtype=dtype)
    frame: pd.DataFrame = pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))
    return frame


__all__ = ["RESULT_COLUMNS", "WORKER_COLUMNS", "results_to_dataframe", "workers_to_dataframe"]
