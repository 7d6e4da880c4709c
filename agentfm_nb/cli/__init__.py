"""``agentfm-nb``: one console script, one module per group of subcommands.

Each module in ``_COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its subcommands
and sets ``func`` (taking the parsed namespace, returning an exit code) on each.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from agentfm_nb.errors import AgentFMError

_COMMAND_MODULES = (
    "agentfm_nb.cli.mesh",
    "agentfm_nb.cli.export",
    "agentfm_nb.cli.quickstart",
    "agentfm_nb.cli.client",
    "agentfm_nb.cli.devchain",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentfm-nb",
        description="AgentFM in notebooks: embedded gateway, client commands and exports.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except AgentFMError as exc:
        # One line on stderr, never a traceback: the message is already written for people.
        print(f"agentfm-nb: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
