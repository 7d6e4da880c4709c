"""The python agents of the demo mesh (the command ones live in ``demo_agents``)."""

from __future__ import annotations

import re
from collections import Counter


async def echo(prompt: str) -> str:
    """``Echo``: the prompt back, at once."""
    return prompt


def analyst(prompt: str) -> str:
    """``Analyst``: deterministic statistics of the prompt's text."""
    words = re.findall(r"[A-Za-z0-9']+", prompt.lower())
    sentences = [s for s in re.split(r"[.!?]+", prompt) if s.strip()]
    top = Counter(w for w in words if len(w) > 3).most_common(5)
    lines = [
        f"characters: {len(prompt)}",
        f"words: {len(words)}",
        f"unique words: {len(set(words))}",
        f"sentences: {len(sentences)}",
        f"lines: {len(prompt.splitlines()) if prompt else 0}",
        f"average word length: {sum(map(len, words)) / len(words):.2f}"
        if words
        else "average word length: 0.00",
        "top words: " + (", ".join(f"{w} ({n})" for w, n in top) if top else "-"),
    ]
    return "\n".join(lines)


__all__ = ["analyst", "echo"]
