"""Print benchmark results as a fixed-width table with a ratio column (shared by every bench).

    from _table import Row, print_table
    print_table("gateway", [Row("workers req/s", ours=1800.0, peer=9000.0, unit="req/s")])

``ratio`` is ours / peer; ``better`` says which way is good so a reader need not guess.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Row:
    metric: str
    ours: float | None
    peer: float | None = None
    unit: str = ""
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.peer is None or self.peer == 0:
            return None
        return self.ours / self.peer


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.3f}"
    return f"{value:.2e}"


def print_table(
    title: str,
    rows: Sequence[Row],
    *,
    ours: str = "agentfm_nb",
    peer: str = "baseline",
    file: TextIO | None = None,
) -> None:
    out = file or sys.stdout
    header = ["metric", ours, peer, "unit", "ratio", "better", "note"]
    body = [
        [
            r.metric,
            fmt(r.ours),
            fmt(r.peer),
            r.unit,
            "-" if r.ratio is None else _fmt_ratio(r.ratio),
            "higher" if r.higher_is_better else "lower",
            r.note,
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    right = {1, 2, 4}

    def render(cells: list[str]) -> str:
        parts = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            parts.append(cell.rjust(width) if i in right else cell.ljust(width))
        return "  ".join(parts).rstrip()

    rule = "-" * len(render(header))
    print(f"\n{title}", file=out)
    print(rule, file=out)
    print(render(header), file=out)
    print(rule, file=out)
    for line in body:
        print(render(line), file=out)
    print(rule, file=out, flush=True)


def _fmt_ratio(ratio: float) -> str:
    # two significant digits below 0.1, so 1/1000 does not print as "0.00x"
    return f"{ratio:.2f}x" if ratio >= 0.1 or ratio == 0 else f"{ratio:.2g}x"
