# IPython's magic decorators and parsers are untyped.
# mypy: disable-error-code="no-untyped-call,untyped-decorator"
"""``%ogpu``: drive the OpenGPU agent role from a notebook.

The key is read from ``AGENT_PRIVATE_KEY`` or a prompt that does not echo; it is never an
argument, so it never lands in the notebook. Errors print as one line.
"""

from __future__ import annotations

import getpass
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from agentfm_nb._magic_help import PlainHelpParser, plain_help
from agentfm_nb.ogpu.agent import Agent, ChainReader
from agentfm_nb.ogpu.chain import PRESET_NAMES, ChainConfig
from agentfm_nb.ogpu.errors import MissingSignerError, OGPUError
from agentfm_nb.ogpu.events import ChainEvent, EventFeed, Follower, to_dataframe
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.signer import ENV_VAR, Signer

COMMANDS = (
    "connect",
    "status",
    "attempt",
    "register",
    "unregister",
    "events",
    "console",
    "disconnect",
)


def _parser(prog: str, description: str) -> PlainHelpParser:
    # No "%" in prog: IPython's help formatter puts one before the usage line itself.
    return PlainHelpParser(prog=f"ogpu {prog}", description=description, add_help=True)


_CONNECT = _parser("connect", "Connect to a node and load the agent key (env or prompt).")
_CONNECT.add_argument("--rpc", required=True, help="RPC URL of the node")
_CONNECT.add_argument("--chain", choices=PRESET_NAMES, default="local")
_CONNECT.add_argument("--nexus", help="Nexus address (required for --chain local)")
_CONNECT.add_argument("--terminal", help="Terminal address (required for --chain local)")
_CONNECT.add_argument("--chain-id", type=int, help="override the preset's chain id")
_CONNECT.add_argument(
    "--principal", action="append", default=[], help="master/client to check isAgentOf against"
)
_CONNECT.add_argument(
    "--no-prompt", action="store_true", help=f"fail instead of prompting when ${ENV_VAR} is unset"
)
_ATTEMPT = _parser("attempt", "Nexus.attempt for PROVIDER on TASK, signed by the agent.")
_ATTEMPT.add_argument("task")
_ATTEMPT.add_argument("provider")
_ATTEMPT.add_argument("payment", type=int, help="suggested payment in wei")
_REGISTER = _parser("register", "Nexus.register PROVIDER to SOURCE.")
_REGISTER.add_argument("source")
_REGISTER.add_argument("provider")
_REGISTER.add_argument("--env", default="cpu", help="cpu,nvidia,amd (combinable)")
_UNREGISTER = _parser("unregister", "Nexus.unregister PROVIDER from SOURCE.")
_UNREGISTER.add_argument("source")
_UNREGISTER.add_argument("provider")
_EVENTS = _parser("events", "Chain events as a DataFrame; --follow keeps a live table.")
_EVENTS.add_argument("--from-block", type=int, default=0)
_EVENTS.add_argument("--follow", action="store_true")
_EVENTS.add_argument("--stop", action="store_true", help="stop a running --follow")
_SUBPARSERS = {
    "connect": _CONNECT,
    "attempt": _ATTEMPT,
    "register": _REGISTER,
    "unregister": _UNREGISTER,
    "events": _EVENTS,
}


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
    return Agent(chain, getpass.getpass(f"{ENV_VAR} (input hidden): "))


def _in_kernel() -> bool:
    try:
        from IPython.core.getipython import get_ipython

        shell = get_ipython()
        return shell is not None and getattr(shell, "kernel", None) is not None
    except Exception:
        return False


@magics_class
class OgpuMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.session = OgpuSession()

    @magic_arguments()
    @argument("command", choices=COMMANDS, help="what to do; `%%ogpu COMMAND -h` for its options")
    @argument("args", nargs="*", help="arguments of the command")
    @line_magic
    def ogpu(self, line: str) -> Any:
        """OpenGPU scheduler agent: connect, status, attempt, register, unregister, events."""
        head, _, rest = line.strip().partition(" ")
        if head in ("-h", "--help", "help", ""):
            print(plain_help(self.ogpu.parser.format_help()))
            return None
        if head not in COMMANDS:
            parse_argstring(self.ogpu, line)  # raises UsageError naming the choices
            return None
        parser = _SUBPARSERS.get(head)
        if parser is not None and {"-h", "--help"} & set(rest.split()):
            # argparse would print the help and then raise SystemExit into the kernel.
            print(parser.format_help())
            return None
        args = parser.parse_argstring(rest) if parser is not None else None
        try:
            return getattr(self, f"_do_{head}")(args)
        except OGPUError as exc:
            print(f"ogpu {head}: {exc.message}", file=sys.stderr)
        except ValueError as exc:
            print(f"ogpu {head}: {exc}", file=sys.stderr)
        return None

    # -- commands ------------------------------------------------------------------------------
    def _need_agent(self) -> Agent:
        if self.session.agent is None:
            raise OGPUError(
                "not connected: run %ogpu connect --rpc URL --chain local|testnet|mainnet"
            )
        return self.session.agent

    def _do_connect(self, args: Any) -> None:
        self.session.close()
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
        self.session = OgpuSession(
            chain=chain, agent=agent, reader=agent, principals=list(args.principal)
        )
        print(f"connected: agent {agent.address} on {chain.name} (chain {chain.chain_id})")

    def _do_disconnect(self, _args: Any) -> None:
        self.session.close()
        self.session = OgpuSession()
        print("disconnected")

    def _do_status(self, _args: Any) -> dict[str, Any]:
        agent = self._need_agent()
        status = {
            "agent": agent.address,
            "chain": agent.chain.name,
            "chain_id": agent.chain.chain_id,
            "block": agent.block_number(),
            "authorized_by": {
                p: agent.is_agent_of(p, agent.address) for p in self.session.principals
            },
            "recent_txs": [(r.function, r.tx_hash, r.state) for r in list(agent.recent)[:5]],
        }
        for key, value in status.items():
            print(f"{key:>14}: {value}")
        return status

    def _report(self, receipt: Any) -> Any:
        names = ", ".join(e.name for e in receipt.events) or "no events"
        print(
            f"{receipt.function}: mined in block {receipt.block_number} "
            f"({receipt.gas_used} gas, {names}) tx {receipt.tx_hash}"
        )
        return receipt

    def _do_attempt(self, args: Any) -> Any:
        return self._report(self._need_agent().attempt(args.task, args.provider, args.payment))

    def _do_register(self, args: Any) -> Any:
        return self._report(self._need_agent().register_to(args.source, args.provider, args.env))

    def _do_unregister(self, args: Any) -> Any:
        return self._report(self._need_agent().unregister_from(args.source, args.provider))

    def _do_console(self, _args: Any) -> Any:
        from agentfm_nb.ogpu.console import AgentConsole

        return AgentConsole(self._need_agent(), self.session.principals)

    def _do_events(self, args: Any) -> Any:
        agent = self._need_agent()
        if args.stop:
            self.session.close()
            print(f"stopped following ({len(self.session.followed)} events seen)")
            return to_dataframe(self.session.followed)
        feed = EventFeed(agent.conn)
        if not args.follow:
            return to_dataframe(feed.fetch(args.from_block))
        self.session.close()
        from IPython.display import display

        handle = display(to_dataframe([]), display_id=True)
        lock = threading.Lock()
        self.session.followed = []

        def on_event(ev: ChainEvent) -> None:
            with lock:
                self.session.followed.append(ev)
                if handle is not None:
                    handle.update(to_dataframe(self.session.followed[-50:]))

        def on_error(exc: BaseException) -> None:
            message = exc.message if isinstance(exc, OGPUError) else str(exc)
            print(f"ogpu events: {message}", file=sys.stderr)

        self.session.follower = feed.start(on_event, on_error=on_error)
        print("following the chain; `%ogpu events --stop` to stop")
        return None


def register(ipython: Any) -> OgpuMagics:
    """Register ``%ogpu`` on ``ipython`` (called by ``%load_ext agentfm_nb``)."""
    magics = OgpuMagics(ipython)
    ipython.register_magics(magics)
    return magics


def load_ipython_extension(ipython: Any) -> None:
    register(ipython)


__all__ = ["OgpuMagics", "OgpuSession", "Signer", "load_ipython_extension", "register"]
