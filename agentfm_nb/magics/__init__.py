"""``%agentfm`` / ``%%agentfm``: IPython magics for the AgentFM mesh.

``%load_ext agentfm_nb`` registers one line+cell magic; the first word picks the subcommand
(``connect``, ``gateway start|stop|status``, ``workers``, ``chat``, ``scatter``, ``run``,
``help``). ``%ogpu`` (the OpenGPU agent) runs on the same registry: every failure of either is
raised as one ``UsageError`` line, so IPython shows no traceback and a headless run fails.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from agentfm_nb.magics import chat, connect, gateway, scatter, views, workers
from agentfm_nb.magics._commands import AGENTFM, COMMANDS
from agentfm_nb.magics._session import stop_session_gateway

_ = (chat, connect, gateway, scatter, views, workers)  # imported for their @command registrations


@magics_class
class AgentFMMagics(Magics):
    """The ``agentfm`` magic; see ``%agentfm help``."""

    @line_cell_magic
    def agentfm(self, line: str, cell: str | None = None) -> Any:
        """AgentFM in the notebook. Run ``%agentfm help`` for the subcommands."""
        return run_magic(self.shell, line, cell)


def run_magic(shell: Any, line: str, cell: str | None = None) -> Any:
    """Dispatch one ``%agentfm`` / ``%%agentfm`` invocation."""
    return AGENTFM.run(shell, line, cell)


def load_ipython_extension(ipython: Any) -> None:
    from agentfm_nb.client._accessor import ensure_accessor

    ipython.register_magics(AgentFMMagics)
    ensure_accessor()  # df.agentfm as soon as pandas is imported (not importing it here)

    def ogpu(line: str) -> Any:
        """``%ogpu``: the web3 stack loads on first use, so ``%load_ext`` stays fast."""
        try:
            from agentfm_nb.ogpu.magic import OGPU, register
        except ImportError as exc:
            raise UsageError(f"%ogpu: the OpenGPU agent cannot load ({exc})") from None
        magics = register(ipython)  # replaces this stand-in with the real %ogpu
        return OGPU.run(magics, line)

    ipython.register_magic_function(ogpu, magic_kind="line", magic_name="ogpu")


def unload_ipython_extension(ipython: Any) -> None:
    # Unloading forgets the magic and stops the session gateway; a later %load_ext starts fresh.
    stop_session_gateway()
    ipython.magics_manager.magics["line"].pop("agentfm", None)
    ipython.magics_manager.magics["cell"].pop("agentfm", None)
    ipython.magics_manager.magics["line"].pop("ogpu", None)


__all__ = ["AGENTFM", "COMMANDS", "AgentFMMagics", "load_ipython_extension", "run_magic"]
