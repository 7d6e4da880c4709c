"""``%agentfm gateway start|stop|status``: one LocalMeshGateway per kernel session."""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

from agentfm_nb.magics._commands import argument, command, fail, show
from agentfm_nb.magics._session import (
    api_key_from_env,
    session_gateway,
    set_session_gateway,
    stop_session_gateway,
)

# Panels shown this session: `gateway stop` brings them to their final state from its cell.
_panels: weakref.WeakSet[Any] = weakref.WeakSet()


def _show(gw: Any) -> None:
    from agentfm_nb.widgets import GatewayPanel

    panel = GatewayPanel(gw)
    _panels.add(panel)
    show(panel)


def _connect_default(gw: Any, api_key: str | None) -> None:
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.client._default import set_default_client

    # The gateway is on this machine: collect the files its agents write where it puts them.
    client = AgentFMClient(gateway_url=gw.url, api_key=api_key, artifacts_dir=gw.artifacts_dir)
    set_default_client(client)


def _describe(gw: Any) -> str:
    return f"{gw.backend} gateway at {gw.url} (pid {gw.pid}, up {gw.uptime_s:.0f} s)"


@command("gateway start", "Start (or reuse) this session's local gateway and connect to it.")
@argument("--port", type=int, default=0, metavar="N", help="port to bind (default: a free one)")
@argument(
    "--backend",
    choices=("auto", "agentfm", "embedded"),
    default="auto",
    metavar="NAME",
    help="auto (default), agentfm or embedded: 'agentfm' runs the real binary, 'embedded' "
    "the built-in gateway with the demo mesh; 'auto' picks the binary when it is on PATH",
)
@argument("--config", metavar="FILE", default=None, help="mesh config (TOML) for the gateway")
@argument(
    "--artifacts-dir",
    metavar="DIR",
    default=None,
    help="where the gateway writes <task_id>.zip files and the client extracts them "
    "(default ./agentfm_artifacts)",
)
@argument(
    "--api-key-env",
    metavar="VAR",
    default=None,
    help="NAME of the environment variable holding the key the gateway should require "
    "(default: AGENTFM_API_KEY when set)",
)
def start(shell: Any, args: Any, cell: str | None) -> None:
    """Start a LocalMeshGateway for this kernel, stopped when the kernel exits."""
    from agentfm_nb.gateway import LocalMeshGateway

    if args.api_key_env is not None:
        api_key: str | None = api_key_from_env(args.api_key_env, cmd="gateway start")
    else:
        api_key = os.environ.get("AGENTFM_API_KEY") or None
    gw = session_gateway()
    if gw is not None:
        print(f"Reusing the running {_describe(gw)}.")
    else:
        config = Path(args.config).expanduser() if args.config else None
        if config is not None and not config.is_file():
            raise fail("gateway start", f"config file not found: {config}")
        if not 0 <= args.port <= 65535:
            raise fail("gateway start", f"port out of range: {args.port}")
        gw = LocalMeshGateway(
            port=args.port,
            backend=args.backend,
            config=config,
            api_key=api_key,
            artifacts_dir=Path(args.artifacts_dir).expanduser() if args.artifacts_dir else None,
        )
        gw.start()
        set_session_gateway(gw)
        print(f"Started the {_describe(gw)}.")
    _connect_default(gw, api_key)
    _show(gw)


@command("gateway stop", "Stop this session's local gateway.")
def stop(shell: Any, args: Any, cell: str | None) -> None:
    """Stop the gateway started with %agentfm gateway start (its agents stop with it)."""
    gw = session_gateway()
    url = gw.url if gw is not None else None
    if stop_session_gateway():
        for panel in list(_panels):
            if panel.gateway is gw:
                panel.stop()
        print(f"Stopped the gateway at {url}.")
    else:
        print("No session gateway is running.")


@command("gateway status", "Show this session's local gateway.")
def status(shell: Any, args: Any, cell: str | None) -> None:
    """Show the session gateway's panel (backend, URL, pid, uptime, workers, log tail)."""
    gw = session_gateway()
    if gw is None:
        print("No session gateway is running (start one with %agentfm gateway start).")
        return
    print(f"Running: {_describe(gw)}.")
    _show(gw)
