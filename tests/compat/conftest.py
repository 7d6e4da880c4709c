"""Fixtures of the SDK-compatibility suite: our package and the official SDK side by side.

The official ``agentfm-sdk`` 0.3.0 is a test dependency; most tests here give the same input to
it and to ``agentfm_nb`` and compare what comes out, so the SDK itself is the oracle.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

STAND_IN = Path(__file__).parents[1] / "gateway" / "stand_in_agentfm.py"


@pytest.fixture
def stand_in_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in ``agentfm`` binary first on PATH; returns the file its argv is recorded in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "agentfm"
    exe.write_text(f"#!{sys.executable}\n" + STAND_IN.read_text())
    exe.chmod(0o755)
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("STANDIN_RECORD", str(record))
    monkeypatch.setenv("STANDIN_MODE", "serve")
    monkeypatch.delenv("AGENTFM_API_KEYS", raising=False)
    return record
