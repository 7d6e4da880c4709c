"""``%agentfm`` / ``%%agentfm``: IPython magics for the AgentFM mesh.

``%load_ext agentfm_nb`` registers one line+cell magic; the first word picks the subcommand
(``connect``, ``gateway start|stop|status``, ``workers``, ``chat``, ``scatter``, ``run``,
``help``). Errors are raised as ``UsageError`` so IPython shows one line, never a traceback.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from agentfm_nb.errors import AgentFMError, GatewayConnectionError
from agentfm_nb.magics import chat, connect, gateway, scatter, workers
from agentfm_nb.magics._commands import (
    COMMANDS,
    describe,
    group_help,
    overview,
    parse,
    resolve,
    split_line,
    wants_help,
)
from agentfm_nb.magics._session import stop_session_gateway

_ = (chat, connect, gateway, scatter, workers)  # imported for their @command registrations


@magics_class
class AgentFMMagics(Magics):
    """The ``agentfm`` magic; see ``%agentfm help``."""

    @line_cell_magic
    def agentfm(self, line: str, cell: str | None = None) -> Any:
        """AgentFM in the notebook. Run ``%agentfm help`` for the subcommands."""
        return run_magic(self.shell, line, cell)


def run_magic(shell: Any, line: str, cell: str | None = None) -> Any:
    """Dispatch one ``%agentfm`` / ``%%agentfm`` invocation."""
    tokens = split_line(line)
    if not tokens or tokens[0] in ("help", "-h", "--help"):
        topic, _rest = resolve(tokens[1:])
        if topic is not None:
            print(topic.help())
        elif tokens[1:2] == ["gateway"]:
            print(group_help("gateway"))
        else:
            print(overview())
        return None
    if tokens[0] == "connect":
        connect.refuse_literal_key(tokens[1:], cmd="connect")
    cmd, argv = resolve(tokens)
    if cmd is None:
        if tokens[0] == "gateway":
            if wants_help(tokens[1:]):
                print(group_help("gateway"))
                return None
            raise UsageError("%agentfm gateway: say start, stop or status (see %agentfm help)")
        raise UsageError(f"%agentfm: unknown subcommand {tokens[0]!r} (see %agentfm help)")
    if wants_help(argv):
        print(cmd.help())
        return None
    args = parse(cmd, argv)
    if cell is not None and not cmd.cell and cell.strip():
        raise UsageError(f"%%agentfm {cmd.name}: this subcommand takes no cell body")
    try:
        return cmd.handler(shell, args, cell)
    except AgentFMError as exc:
        hint = ""
        if isinstance(exc, GatewayConnectionError) and not cmd.name.startswith("gateway"):
            hint = "; start one with %agentfm gateway start, or %agentfm connect URL"
        raise UsageError(f"%agentfm {cmd.name}: {describe(exc)}{hint}") from None


def load_ipython_extension(ipython: Any) -> None:
    from agentfm_nb.client._accessor import ensure_accessor

    ipython.register_magics(AgentFMMagics)
    ensure_accessor()  # df.agentfm as soon as pandas is imported (not importing it here)

    def ogpu(line: str) -> Any:
        """``%ogpu``: the web3 stack loads on first use, so ``%load_ext`` stays fast."""
        from agentfm_nb.ogpu.magic import register

        magics = register(ipython)  # replaces this stand-in with the real %ogpu
        return magics.ogpu(line)

    ipython.register_magic_function(ogpu, magic_kind="line", magic_name="ogpu")


def unload_ipython_extension(ipython: Any) -> None:
    # Unloading forgets the magic and stops the session gateway; a later %load_ext starts fresh.
    stop_session_gateway()
    ipython.magics_manager.magics["line"].pop("agentfm", None)
    ipython.magics_manager.magics["cell"].pop("agentfm", None)
    ipython.magics_manager.magics["line"].pop("ogpu", None)


__all__ = ["COMMANDS", "AgentFMMagics", "load_ipython_extension", "run_magic"]
