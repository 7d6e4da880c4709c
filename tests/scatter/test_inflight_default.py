"""The default in-flight cap stays inside the process's open-file limit (one socket per attempt)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard))
from agentfm_nb.scatter import peers
print(peers.DEFAULT_MAX_INFLIGHT)
"""


@pytest.mark.parametrize(("soft", "expected"), [(256, 128), (1024, 512), (4096, 512), (20, 16)])
def test_default_cap_follows_the_file_limit(soft: int, expected: int) -> None:
    resource = pytest.importorskip("resource")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and soft > hard:
        pytest.skip(f"the hard open-file limit here is {hard}")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(soft)], capture_output=True, text=True, check=True
    )
    assert int(out.stdout) == expected
