"""The demo notebook runs top to bottom on its own anvil, and the key is nowhere in it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from agentfm_nb.ogpu.devchain import LocalChain, anvil_binary

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "05_opengpu_agent.ipynb"
pytestmark = [pytest.mark.chain, pytest.mark.slow]


def test_notebook_runs_and_never_contains_the_key(tmp_path: Path) -> None:
    try:
        anvil_binary()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    out = tmp_path / "05.executed.ipynb"
    nbformat.write(nb, out)
    text = out.read_text()
    key = LocalChain().dev_key(3)
    for needle in (key, key[2:], key[2:].upper(), key[2:18]):
        assert needle.lower() not in text.lower()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    joined = "\n".join(
        o.get("text", "")
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stdout"
    )
    assert "TaskExpiredError" in joined and "PaymentTooHigh" in joined
    assert "attempt: mined in block" in joined
