"""``python -m agentfm_nb.mesh``: the same as ``agentfm-nb mesh``."""

from __future__ import annotations

import sys

from agentfm_nb.cli import main

if __name__ == "__main__":
    sys.exit(main(["mesh", *sys.argv[1:]]))
