"""``agentfm-nb devchain install|where``: anvil for the OpenGPU demo chain (notebook 05)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "devchain",
        help="install or locate anvil, the local EVM node of the OpenGPU demo chain",
        description="The OpenGPU agent's local chain (notebook 05, LocalChain) runs anvil. "
        "`install` fetches npm @foundry-rs/anvil into a per-user cache (needs Node.js' npm); "
        "`where` prints the anvil that will be used.",
    )
    commands = parser.add_subparsers(dest="devchain_command", metavar="SUBCOMMAND")
    install = commands.add_parser("install", help="npm-install anvil into the per-user cache")
    install.add_argument(
        "--prefix",
        type=Path,
        default=None,
        help="install here instead of the per-user cache ($AGENTFM_NB_CACHE_DIR or ~/.cache)",
    )
    install.add_argument("--version", default=None, help="@foundry-rs/anvil version to install")
    install.set_defaults(func=run_install)
    where = commands.add_parser("where", help="print the path of the anvil that will be used")
    where.set_defaults(func=run_where)
    parser.set_defaults(func=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_install(args: argparse.Namespace) -> int:
    from agentfm_nb.ogpu.anvil import ANVIL_VERSION, install_anvil

    binary = install_anvil(args.prefix, version=args.version or ANVIL_VERSION)
    print(f"anvil installed: {binary}")
    return 0


def run_where(args: argparse.Namespace) -> int:
    from agentfm_nb.ogpu.anvil import find_anvil

    print(find_anvil())
    return 0
