"""``Poet``: streams twelve lines about the prompt, ~0.15 s apart, so streaming is visible."""

from __future__ import annotations

import time

from agentfm_nb.mesh.demo_agents._prompt import read_prompt

LINES = (
    "Of {t} I sing, in measured line,",
    "a thought that wandered into mine;",
    "it knocked upon the mesh's door",
    "and asked a peer to tell it more.",
    "The worker woke, the stream began,",
    "one verse, then two, as verses can;",
    "each line was flushed the moment made,",
    "no token hoarded, none delayed.",
    "So {t} travels, hop by hop,",
    "from notebook cell to worker's shop,",
    "and back it comes, a little changed:",
    "the same request, in rhyme arranged.",
)


def main() -> None:
    topic = " ".join(read_prompt().split()) or "nothing much"
    if len(topic) > 60:
        topic = topic[:57] + "..."
    for i, line in enumerate(LINES):
        if i:
            time.sleep(0.15)
        print(line.format(t=topic), flush=True)


if __name__ == "__main__":
    main()
