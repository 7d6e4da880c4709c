"""How a command agent reads its task: the prompt on stdin (closed after), output folder in env."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def read_prompt() -> str:
    data = sys.stdin.read()
    return data if data else os.environ.get("AGENTFM_PROMPT", "")


def output_dir() -> Path:
    return Path(os.environ.get("AGENTFM_OUTPUT_DIR", "."))
