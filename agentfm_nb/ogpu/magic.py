# IPython's magic decorators and parsers are untyped.
# mypy: disable-error-code="no-untyped-call,untyped-decorator"
"""``%ogpu``: drive the OpenGPU agent role from a notebook.

The key is read from ``AGENT_PRIVATE_KEY`` or a prompt that does not echo; it is never an
argument, so it never lands in the notebook. The subcommands live on the same registry as
``%agentfm``: every failure is raised as one ``UsageError`` line (no traceback; the cell fails,
so a headless run stops there) and never shows a key.
"""

from __future__ import annotations

import getpass
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import StdinNotImplementedError
from IPython.core.magic import Magics, line_magic, magics_class

from agentfm_nb.magics._registry import Command, Registry, argument
from agentfm_nb.ogpu.agent import Agent, ChainReader
from agentfm_nb.ogpu.chain import PRESET_NAMES, ChainConfig
from agentfm_nb.ogpu.errors import MissingSignerError, OGPUError
from agentfm_nb.ogpu.events import ChainEvent, EventFeed, Follower, to_dataframe
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.signer import ENV_VAR, Signer


@dataclass
class OgpuSession:
    """What ``%ogpu connect`` set up in this kernel (the magic's only state)."""

    chain: ChainConfig | None = None
    agent: Agent | None = None
    reader: ChainReader | None = None
    principals: list[str] = field(default_factory=list)
    follower: Follower | None = None
    followed: list[ChainEvent] = field(default_factory=list)

    def close(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None


def _load_agent(chain: Connection, no_prompt: bool) -> Agent:
    try:
        return Agent(chain)
    except MissingSignerError:
        if no_prompt or not sys.stdin or (not sys.stdin.isatty() and not _in_kernel()):
            raise
    # a prompt that does not echo; the value goes straight into the Signer
    try:
        key = getpass.getpass(f"{ENV_VAR} (input hidden): ")
    except StdinNotImplementedError:  # nbclient, papermill, a frontend without input
        raise OGPUError(
            f"{ENV_VAR} is not set and this frontend cannot prompt for it (a headless run?): "
            f"set {ENV_VAR} in the kernel's environment"
        ) from None
    return Agent(chain, key)


def _in_kernel() -> bool:
    try:
        from IPython.core.getipython import get_ipython

        shell = get_ipython()
        return shell is not None and getattr(shell, "kernel", None) is not None
    except Exception:
        return False


def _describe(_cmd: Command, exc: BaseException) -> str | None:
    return exc.message if isinstance(exc, OGPUError) else None


OGPU = Registry(
    "ogpu",
    title="OpenGPU scheduler agent (each subcommand takes --help):",
    key_hint=f"the agent key is read from ${ENV_VAR} or a prompt that does not echo",
    order=(
        "connect",
        "status",
        "attempt",
        "register",
        "unregister",
        "events",
        "console",
        "nonce info",
        "nonce fix",
        "nonce reset",
    ),
    notes=(
        f"The agent's key comes from ${ENV_VAR} or a hidden prompt, never from the magic line.",
        "",
        "Examples:",
        "  %ogpu connect --rpc http://127.0.0.1:8545 --chain local --nexus 0x.. --terminal 0x..",
        "  %ogpu attempt TASK PROVIDER 1000",
        "  %ogpu events --follow",
    ),
    describe=_describe,
)


@magics_class
class OgpuMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.session = OgpuSession()

    @line_magic
    def ogpu(self, line: str) -> Any:
        """OpenGPU scheduler agent. Run ``%ogpu help`` for the subcommands."""
        return OGPU.run(self, line)

    def need_agent(self) -> Agent:
        if self.session.agent is None:
            raise OGPUError(
                "not connected: run %ogpu connect --rpc URL --chain local|testnet|mainnet"
            )
        return self.session.agent


def _report(receipt: Any) -> Any:
    names = ", ".join(e.name for e in receipt.events) or "no events"
    print(
        f"{receipt.function}: mined in block {receipt.block_number} "
        f"({receipt.gas_used} gas, {names}) tx {receipt.tx_hash}"
    )
    return receipt


@OGPU.command("connect", "Connect to a node and load the agent key (env or hidden prompt).")
@argument("--rpc", required=True, metavar="URL", help="RPC URL of the node")
@argument("--chain", choices=PRESET_NAMES, default="local", help="chain preset (default local)")
@argument("--nexus", metavar="ADDR", help="Nexus address (required for --chain local)")
@argument("--terminal", metavar="ADDR", help="Terminal address (required for --chain local)")
@argument("--chain-id", type=int, metavar="N", help="override the preset's chain id")
@argument(
    "--principal",
    action="append",
    default=[],
    metavar="ADDR",
    help="master/client to check isAgentOf against (repeatable)",
)
@argument(
    "--no-prompt", action="store_true", help=f"fail instead of prompting when ${ENV_VAR} is unset"
)
def _connect(magics: OgpuMagics, args: Any, _cell: str | None) -> None:
    """Connect to a node and load the agent key (from the environment or a hidden prompt)."""
    magics.session.close()
    chain = ChainConfig.preset(
        args.chain,
        rpc_url=args.rpc,
        nexus=args.nexus,
        terminal=args.terminal,
        chain_id=args.chain_id,
    )
    conn = Connection(chain)
    conn.ensure_chain_id()
    agent = _load_agent(conn, args.no_prompt)
    magics.session = OgpuSession(
        chain=chain, agent=agent, reader=agent, principals=list(args.principal)
    )
    print(f"connected: agent {agent.address} on {chain.name} (chain {chain.chain_id})")


@OGPU.command("disconnect", "Forget the agent and stop following events.")
def _disconnect(magics: OgpuMagics, _args: Any, _cell: str | None) -> None:
    """Forget the connected agent and stop a running ``events --follow``."""
    magics.session.close()
    magics.session = OgpuSession()
    print("disconnected")


@OGPU.command("status", "The agent's address, chain, block and authorizations.")
def _status(magics: OgpuMagics, _args: Any, _cell: str | None) -> dict[str, Any]:
    """Print (and return) the agent's address, chain, block, isAgentOf and recent txs."""
    agent = magics.need_agent()
    status = {
        "agent": agent.address,
        "chain": agent.chain.name,
        "chain_id": agent.chain.chain_id,
        "block": agent.block_number(),
        "authorized_by": {
            p: agent.is_agent_of(p, agent.address) for p in magics.session.principals
        },
        "recent_txs": [(r.function, r.tx_hash, r.state) for r in list(agent.recent)[:5]],
    }
    for key, value in status.items():
        print(f"{key:>14}: {value}")
    return status


@OGPU.command("attempt", "Nexus.attempt for PROVIDER on TASK, signed by the agent.")
@argument("task", help="task address")
@argument("provider", help="provider address")
@argument("payment", type=int, help="suggested payment in wei")
def _attempt(magics: OgpuMagics, args: Any, _cell: str | None) -> Any:
    """Nexus.attempt for PROVIDER on TASK with a suggested PAYMENT, signed by the agent."""
    return _report(magics.need_agent().attempt(args.task, args.provider, args.payment))


@OGPU.command("register", "Nexus.register PROVIDER to SOURCE.")
@argument("source", help="source address")
@argument("provider", help="provider address")
@argument("--env", default="cpu", help="cpu,nvidia,amd (combinable; default cpu)")
def _register(magics: OgpuMagics, args: Any, _cell: str | None) -> Any:
    """Nexus.register PROVIDER to SOURCE for the given environments."""
    return _report(magics.need_agent().register_to(args.source, args.provider, args.env))


@OGPU.command("unregister", "Nexus.unregister PROVIDER from SOURCE.")
@argument("source", help="source address")
@argument("provider", help="provider address")
def _unregister(magics: OgpuMagics, args: Any, _cell: str | None) -> Any:
    """Nexus.unregister PROVIDER from SOURCE."""
    return _report(magics.need_agent().unregister_from(args.source, args.provider))


@OGPU.command("console", "The AgentConsole widget for the connected agent.")
def _console(magics: OgpuMagics, _args: Any, _cell: str | None) -> Any:
    """Show the AgentConsole (prepare, confirm and follow transactions) for the agent."""
    from agentfm_nb.ogpu.console import AgentConsole

    return AgentConsole(magics.need_agent(), magics.session.principals)


@OGPU.command("events", "Chain events as a DataFrame; --follow keeps a live table.")
@argument("--from-block", type=int, default=0, metavar="N", help="first block (default 0)")
@argument("--follow", action="store_true", help="keep a live table of new events")
@argument("--stop", action="store_true", help="stop a running --follow")
def _events(magics: OgpuMagics, args: Any, _cell: str | None) -> Any:
    """Chain events since --from-block as a DataFrame, or a live table with --follow."""
    agent = magics.need_agent()
    session = magics.session
    if args.stop:
        session.close()
        print(f"stopped following ({len(session.followed)} events seen)")
        return to_dataframe(session.followed)
    feed = EventFeed(agent.conn)
    if not args.follow:
        return to_dataframe(feed.fetch(args.from_block))
    session.close()
    from IPython.display import display

    handle = display(to_dataframe([]), display_id=True)
    lock = threading.Lock()
    session.followed = []

    def on_event(ev: ChainEvent) -> None:
        with lock:
            session.followed.append(ev)
            if handle is not None:
                handle.update(to_dataframe(session.followed[-50:]))

    def on_error(exc: BaseException) -> None:
        # A background thread: no cell to fail, so the line goes to the log stream.
        message = exc.message if isinstance(exc, OGPUError) else str(exc)
        print(f"ogpu events: {message}", file=sys.stderr)

    session.follower = feed.start(on_event, on_error=on_error)
    print("following the chain; `%ogpu events --stop` to stop")
    return None


@OGPU.command("nonce info", "The agent's nonces: mined, pending, in flight, stalled.")
def _nonce_info(magics: OgpuMagics, _args: Any, _cell: str | None) -> dict[str, Any]:
    """Print (and return) the node's and this process's view of the agent's nonces."""
    from agentfm_nb.ogpu.nonce_tools import get_nonce_info

    agent = magics.need_agent()
    info = get_nonce_info(agent.address, chain=agent.chain)
    for key in ("mined_nonce", "pending_nonce", "cached_nonce", "pending_count", "stalled"):
        print(f"{key:>14}: {info[key]}")
    for item in info["tracked"]:
        print(f"{'nonce ' + str(item['nonce']):>14}: {item['function']} {item['state']}")
    return info


@OGPU.command("nonce reset", "Forget the local nonce counter; the next send asks the node.")
def _nonce_reset(magics: OgpuMagics, _args: Any, _cell: str | None) -> None:
    """Forget this process's nonce counter and tracked transactions for the agent's key."""
    from agentfm_nb.ogpu.nonce_tools import reset_nonce_cache

    agent = magics.need_agent()
    reset_nonce_cache(agent.address)
    print(f"nonce cache reset for {agent.address}")


@OGPU.command("nonce fix", "Cancel stuck nonces with zero-value self-transfers (costs gas).")
@argument("--timeout", type=float, default=60.0, metavar="S", help="wait for the cancels (60)")
def _nonce_fix(magics: OgpuMagics, args: Any, _cell: str | None) -> int:
    """Cancel every nonce from the mined count to the highest in flight, wait until they are
    mined, and print (and return) the next free nonce."""
    from agentfm_nb.ogpu.nonce_tools import fix_nonce

    agent = magics.need_agent()
    # The account object signs the cancels; the key itself never leaves the signer.
    account = agent.signer._account
    next_nonce = fix_nonce(agent.address, account, chain=agent.chain, timeout=args.timeout)
    print(f"nonces fixed: the next free nonce is {next_nonce}")
    return next_nonce


def register(ipython: Any) -> OgpuMagics:
    """Register ``%ogpu`` on ``ipython`` (called by ``%load_ext agentfm_nb``)."""
    magics = OgpuMagics(ipython)
    ipython.register_magics(magics)
    return magics


def load_ipython_extension(ipython: Any) -> None:
    register(ipython)


__all__ = ["OGPU", "OgpuMagics", "OgpuSession", "Signer", "load_ipython_extension", "register"]
