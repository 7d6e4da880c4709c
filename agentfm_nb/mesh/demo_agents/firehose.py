"""``firehose``: prints N numbered lines as fast as it can (N = the prompt, default 100000).

For throughput benchmarks: ``python -u -m agentfm_nb.mesh.demo_agents.firehose``.
"""

from __future__ import annotations

import sys

from agentfm_nb.mesh.demo_agents._prompt import read_prompt


def main() -> None:
    text = read_prompt().strip()
    count = int(text) if text.isdigit() else 100_000
    out = sys.stdout
    pad = "x" * 40
    for start in range(0, count, 1000):
        out.write("".join(f"line {i} {pad}\n" for i in range(start, min(start + 1000, count))))
        out.flush()


if __name__ == "__main__":
    main()
