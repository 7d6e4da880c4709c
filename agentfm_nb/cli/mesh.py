"""``agentfm-nb mesh``: run the embedded AgentFM gateway with local workers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

_EPILOG = """environment:
  AGENTFM_API_KEYS              comma-separated bearer keys (each >= 16 characters)
  AGENTFM_ALLOW_UNAUTH_PUBLIC   1 to allow a non-loopback --host without keys
  AGENTFM_WEBHOOK_SECRET        signs async-task webhooks (X-AgentFM-Signature)
  AGENTFM_WEBHOOK_ALLOW_PRIVATE 1 to allow webhooks to loopback/private addresses
"""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mesh",
        help="run the embedded gateway (a local AgentFM mesh)",
        description="Run the embedded AgentFM gateway with the workers of a TOML config "
        "(or the demo mesh when no config is given).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free)")
    parser.add_argument("--config", type=Path, default=None, help="mesh TOML (default: demo mesh)")
    parser.add_argument(
        "--artifacts-dir",
        type=Path,
        default=Path("agentfm_artifacts"),
        help="where <task_id>.zip artifacts land (default ./agentfm_artifacts)",
    )
    parser.add_argument("--state-dir", type=Path, default=None, help="keeps worker identities")
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="server log level (default warning)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from agentfm_nb.mesh.server import ServeOptions, run

    return run(
        ServeOptions(
            host=args.host,
            port=args.port,
            config=args.config,
            artifacts_dir=args.artifacts_dir,
            state_dir=args.state_dir,
            log_level=args.log_level,
        )
    )
