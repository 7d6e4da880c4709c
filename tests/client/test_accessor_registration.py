"""``df.agentfm`` appears once a client exists, whether pandas was imported before or after."""

from __future__ import annotations

import subprocess
import sys

import pytest

_CHECK = "print(type(pd.DataFrame({'q': ['x']}).agentfm).__name__)\n"


@pytest.mark.parametrize(
    "code",
    [
        # client first: pandas must not be imported by us; the accessor arrives with pandas
        "import sys\nfrom agentfm_nb import AgentFMClient\nAgentFMClient()\n"
        "assert 'pandas' not in sys.modules\nimport pandas as pd\n" + _CHECK,
        # pandas first: registered at construction
        "import pandas as pd\nfrom agentfm_nb import AsyncAgentFMClient\nAsyncAgentFMClient()\n"
        + _CHECK,
    ],
    ids=["client-then-pandas", "pandas-then-client"],
)
def test_client_construction_registers_the_accessor(code: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "AgentFMAccessor"


def test_import_alone_stays_cheap() -> None:
    heavy = "('pandas', 'httpx', 'numpy')"
    code = f"import sys, agentfm_nb\nprint(sorted(m for m in {heavy} if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"
