"""The diff encoding round-trips: what the browser would hold equals what Python has."""

from __future__ import annotations

import numpy as np
import pytest

from agentfm_nb.widgets._columnar import ColumnDiffer, ColumnTable, payload_bytes


def _cols(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "cpu": rng.random(n).astype("<f4"),
        "cur": rng.integers(0, 4, n).astype("<u2"),
        "seen": rng.random(n).astype("<f8") * 1e9,
    }


def test_snapshot_then_diffs_round_trip() -> None:
    rng = np.random.default_rng(7)
    differ, table = ColumnDiffer(), ColumnTable()
    cols = _cols(rng, 1000)
    strings = {"name": [f"w{i}" for i in range(1000)]}
    first = differ.diff(cols, strings)
    assert first is not None and first[0]["kind"] == "snapshot"
    table.apply_snapshot(*first)
    for step in range(20):
        n = 1000 + step * 10  # rows only ever grow (slots are stable)
        new = {k: np.resize(v, n).copy() for k, v in cols.items()}
        idx = rng.choice(n, 25, replace=False)
        new["cpu"][idx] = rng.random(25)
        new["cur"][idx[:5]] += 1
        strings = {"name": [f"w{i}" + ("!" if i in idx[:3] else "") for i in range(n)]}
        payload = differ.diff(new, strings)
        assert payload is not None
        content, buffers = payload
        assert len(content["cols"]["cpu"]) == 3  # dtype + idx + val, not the whole column
        assert table.apply_diff(content, buffers)
        for k, v in new.items():
            np.testing.assert_array_equal(table.cols[k], v)
        assert table.strings["name"] == strings["name"]
        cols = new


def test_quiet_tick_sends_nothing_and_a_diff_is_small() -> None:
    rng = np.random.default_rng(1)
    cols = _cols(rng, 10_000)
    strings = {"name": [str(i) for i in range(10_000)]}
    differ = ColumnDiffer()
    full = differ.diff(cols, strings)
    assert full is not None
    assert differ.diff(cols, strings) is None
    cols["cpu"][:10] += 1
    small = differ.diff(cols, strings)
    assert small is not None
    assert payload_bytes(*small) < 300 < payload_bytes(*full) / 100


def test_gap_is_refused_and_snapshot_resyncs() -> None:
    rng = np.random.default_rng(3)
    cols = _cols(rng, 50)
    differ, table = ColumnDiffer(), ColumnTable()
    table.apply_snapshot(*differ.diff(cols, {}))  # type: ignore[misc]
    cols["cpu"][0] = 9
    lost = differ.diff(cols, {})
    assert lost is not None
    cols["cpu"][1] = 8
    later = differ.diff(cols, {})
    assert later is not None
    assert table.apply_diff(*later) is False  # missed the first ones
    snap, bufs = differ.snapshot(cols, {}, inline=False)
    table.apply_snapshot(snap, bufs)
    np.testing.assert_array_equal(table.cols["cpu"], cols["cpu"])
    inline, none = differ.snapshot(cols, {}, inline=True)
    assert none == [] and isinstance(inline["cols"]["cpu"]["data"], memoryview)


def test_mismatched_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="row count"):
        ColumnDiffer().diff({"a": np.zeros(3, "<f4"), "b": np.zeros(4, "<f4")}, {})
