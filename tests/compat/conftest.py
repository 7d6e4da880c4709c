"""Fixtures of the SDK-compatibility suite: our package and the official SDK side by side.

The official ``agentfm-sdk`` 0.3.0 is a test dependency; most tests here give the same input to
it and to ``agentfm_nb`` and compare what comes out, so the SDK itself is the oracle.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def stand_in_on_path(agentfm_stand_in: tuple[Path, Path]) -> Path:
    """A stand-in ``agentfm`` binary first on PATH; returns the file its argv is recorded in."""
    return agentfm_stand_in[1]
