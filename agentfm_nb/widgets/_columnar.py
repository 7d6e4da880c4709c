"""Columnar binary payloads with per-tick diffs (the Python half of ``js/shared/columnar.ts``).

A table is a set of equal-length numpy columns plus string columns. The first payload is a
snapshot; later ones carry only the cells that changed, as ``u4`` row indices plus values, so a
quiet tick of a 10,000-row table costs a few bytes instead of the whole table as JSON.
``ColumnTable`` applies payloads exactly like the browser does (used by the tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

DTYPES: dict[str, str] = {
    "u1": "<u1",
    "u2": "<u2",
    "u4": "<u4",
    "i4": "<i4",
    "f4": "<f4",
    "f8": "<f8",
}

Array = npt.NDArray[Any]


def _as(arr: Array | Sequence[float], dtype: str) -> Array:
    return np.ascontiguousarray(np.asarray(arr), dtype=DTYPES[dtype])


def _key_of(arr: Array) -> str:
    for key, np_dtype in DTYPES.items():
        if arr.dtype == np.dtype(np_dtype):
            return key
    raise TypeError(f"unsupported column dtype {arr.dtype}")


def snapshot_payload(
    n: int,
    seq: int,
    cols: Mapping[str, Array],
    strings: Mapping[str, Sequence[str]],
    *,
    inline: bool,
) -> tuple[dict[str, Any], list[bytes]]:
    """A snapshot: buffers inline (for a synced trait) or as message buffers (for ``send``)."""
    buffers: list[bytes] = []
    out_cols: dict[str, Any] = {}
    for name, arr in cols.items():
        data = arr.tobytes()
        if inline:
            out_cols[name] = {"dtype": _key_of(arr), "data": memoryview(data)}
        else:
            out_cols[name] = {"dtype": _key_of(arr), "data": len(buffers)}
            buffers.append(data)
    content = {
        "kind": "snapshot",
        "n": n,
        "seq": seq,
        "cols": out_cols,
        "strings": {k: list(v) for k, v in strings.items()},
    }
    return content, buffers


@dataclass
class ColumnDiffer:
    """Remembers what the browser holds and produces the next snapshot or diff."""

    seq: int = -1
    n: int = 0
    cols: dict[str, Array] = field(default_factory=dict)
    strings: dict[str, list[str]] = field(default_factory=dict)

    def snapshot(
        self, cols: Mapping[str, Array], strings: Mapping[str, Sequence[str]], *, inline: bool
    ) -> tuple[dict[str, Any], list[bytes]]:
        """A payload of the whole table (the same ``seq`` as the last diff: no new state)."""
        self._remember(cols, strings)
        return snapshot_payload(self.n, max(self.seq, 0), self.cols, self.strings, inline=inline)

    def diff(
        self, cols: Mapping[str, Array], strings: Mapping[str, Sequence[str]]
    ) -> tuple[dict[str, Any], list[bytes]] | None:
        """Only the changed cells since the last call, or ``None`` when nothing changed.

        The first call returns a snapshot (``seq`` 0): row indices would only add bytes.
        """
        n = _length(cols, strings)
        if self.seq < 0:
            self.seq = 0
            self._remember(cols, strings)
            return snapshot_payload(n, 0, self.cols, self.strings, inline=False)
        old_n = self.n
        buffers: list[bytes] = []
        out_cols: dict[str, Any] = {}
        for name, new in cols.items():
            old = self.cols.get(name)
            if old is None or old.dtype != new.dtype:
                changed = np.arange(n, dtype="<u4")
            else:
                m = min(old_n, n)
                same = old[:m] == new[:m]
                if new.dtype.kind == "f":
                    same |= np.isnan(old[:m]) & np.isnan(new[:m])
                changed = np.concatenate([np.flatnonzero(~same), np.arange(m, n)]).astype("<u4")
            if changed.size:
                out_cols[name] = {
                    "dtype": _key_of(new),
                    "idx": len(buffers),
                    "val": len(buffers) + 1,
                }
                buffers += [changed.tobytes(), np.ascontiguousarray(new[changed]).tobytes()]
        out_strings: dict[str, Any] = {}
        for name, vals in strings.items():
            prev = self.strings.get(name, [])
            idx = [i for i in range(n) if i >= len(prev) or prev[i] != vals[i]]
            if idx:
                out_strings[name] = {"idx": idx, "val": [vals[i] for i in idx]}
        if not out_cols and not out_strings and n == old_n and self.seq >= 0:
            return None
        self.seq += 1
        self._remember(cols, strings)
        content = {
            "kind": "diff",
            "seq": self.seq,
            "n": n,
            "cols": out_cols,
            "strings": out_strings,
        }
        return content, buffers

    def _remember(self, cols: Mapping[str, Array], strings: Mapping[str, Sequence[str]]) -> None:
        self.n = _length(cols, strings)
        self.cols = {k: np.array(v, copy=True) for k, v in cols.items()}
        self.strings = {k: list(v) for k, v in strings.items()}


def _length(cols: Mapping[str, Array], strings: Mapping[str, Sequence[str]]) -> int:
    lengths = {len(v) for v in cols.values()} | {len(v) for v in strings.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns disagree on the row count: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def payload_bytes(content: Mapping[str, Any], buffers: Sequence[bytes]) -> int:
    """Bytes on the wire (JSON part + binary buffers), for benchmarks."""
    import json

    return len(json.dumps(content, default=lambda o: None, separators=(",", ":"))) + sum(
        len(b) for b in buffers
    )


class ColumnTable:
    """What the browser holds after applying payloads (mirror of the TS ``ColumnTable``)."""

    def __init__(self) -> None:
        self.n = 0
        self.seq = -1
        self.cols: dict[str, Array] = {}
        self.strings: dict[str, list[str]] = {}

    @staticmethod
    def _buf(ref: Any, buffers: Sequence[bytes | memoryview]) -> bytes:
        return bytes(buffers[ref]) if isinstance(ref, int) else bytes(ref)

    def apply_snapshot(
        self, snap: Mapping[str, Any], buffers: Sequence[bytes | memoryview] = ()
    ) -> None:
        n = int(snap["n"])
        cols = {}
        for name, c in snap["cols"].items():
            arr = np.frombuffer(self._buf(c["data"], buffers), dtype=DTYPES[c["dtype"]]).copy()
            if len(arr) != n:
                raise ValueError(f"column {name} has {len(arr)} rows, not {n}")
            cols[name] = arr
        self.n, self.seq, self.cols = n, int(snap["seq"]), cols
        self.strings = {k: list(v)[:n] for k, v in snap.get("strings", {}).items()}

    def apply_diff(
        self, diff: Mapping[str, Any], buffers: Sequence[bytes | memoryview] = ()
    ) -> bool:
        seq = int(diff["seq"])
        if seq <= self.seq:
            return True
        if seq != self.seq + 1:
            return False
        n = int(diff["n"])
        for name, c in diff["cols"].items():
            dtype = DTYPES[c["dtype"]]
            col = np.zeros(n, dtype=dtype)
            old = self.cols.get(name)
            if old is not None:
                m = min(n, len(old))
                col[:m] = old[:m]
            idx = np.frombuffer(self._buf(c["idx"], buffers), dtype="<u4")
            val = np.frombuffer(self._buf(c["val"], buffers), dtype=dtype)
            if len(idx) != len(val):
                raise ValueError(f"diff of {name}: {len(idx)} indices, {len(val)} values")
            keep = idx < n
            col[idx[keep]] = val[keep]
            self.cols[name] = col
        for name, col in list(self.cols.items()):
            if len(col) != n:
                grown = np.zeros(n, dtype=col.dtype)
                m = min(n, len(col))
                grown[:m] = col[:m]
                self.cols[name] = grown
        for name, s in diff.get("strings", {}).items():
            arr = self.strings.setdefault(name, [])
            for i, v in zip(s["idx"], s["val"], strict=False):
                while len(arr) <= i:
                    arr.append("")
                arr[i] = v
        for name, arr in self.strings.items():
            self.strings[name] = (arr + [""] * n)[:n]
        self.n, self.seq = n, seq
        return True


__all__ = ["DTYPES", "ColumnDiffer", "ColumnTable", "payload_bytes", "snapshot_payload"]
