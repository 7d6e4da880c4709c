"""The subcommand registry behind ``%agentfm``: parsing, ``--help`` and one-line errors.

Each subcommand is a plain function decorated with IPython's ``magic_arguments`` (so its help
is generated from the same declarations that parse it) and registered here under its name.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from IPython.core import magic_arguments as _ma
from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from agentfm_nb._magic_help import plain_help
from agentfm_nb.errors import (
    AgentFMError,
    AuthenticationError,
    GatewayConnectionError,
    MeshOverloadedError,
    ModelNotFoundError,
    WorkerNotFoundError,
)

# (shell, parsed args, cell body or None) -> value shown as the cell result (usually None)
Handler = Callable[[Any, Any, "str | None"], Any]


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    handler: Handler
    cell: bool  # whether the cell body means something (chat, scatter)

    @property
    def parser(self) -> MagicArgumentParser:
        parser: MagicArgumentParser = self.handler.parser  # type: ignore[attr-defined]
        return parser

    @property
    def usage_name(self) -> str:
        return f"%{'%' if self.cell else ''}agentfm {self.name}"

    def help(self) -> str:
        return plain_help(self.parser.format_help())


COMMANDS: dict[str, Command] = {}

Decorator = Callable[[Handler], Handler]


# Typed wrappers: IPython's decorators and display() carry no annotations.
def magic_arguments(name: str) -> Decorator:
    return cast(Decorator, _ma.magic_arguments(name))  # type: ignore[no-untyped-call]


def argument(*args: Any, **kwargs: Any) -> Decorator:
    return cast(Decorator, _ma.argument(*args, **kwargs))  # type: ignore[no-untyped-call]


def show(obj: Any) -> None:
    from IPython.display import display

    display(obj)  # type: ignore[no-untyped-call]


def command(name: str, summary: str, *, cell: bool = False) -> Callable[[Handler], Handler]:
    """Register a ``magic_arguments``-decorated handler as ``%agentfm <name>``."""

    def register(func: Handler) -> Handler:
        COMMANDS[name] = Command(name=name, summary=summary, handler=func, cell=cell)
        return func

    return register


def split_line(line: str) -> list[str]:
    """Shell-like split that tolerates a lone apostrophe ("what's") in free-text prompts."""
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def resolve(tokens: list[str]) -> tuple[Command | None, list[str]]:
    """Find the longest registered command name at the start of ``tokens``."""
    for width in (2, 1):
        name = " ".join(tokens[:width])
        if len(tokens) >= width and name in COMMANDS:
            return COMMANDS[name], tokens[width:]
    return None, tokens


ORDER = ("connect", "gateway start", "gateway stop", "gateway status", "workers", "chat")


def _ordered(prefix: str = "") -> list[str]:
    names = [n for n in COMMANDS if n.startswith(prefix)]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def overview() -> str:
    names = _ordered()
    width = max(len(COMMANDS[name].usage_name) for name in names)
    lines = [
        "AgentFM magics (each subcommand takes --help):",
        "",
        *(f"  {COMMANDS[n].usage_name:<{width}}  {COMMANDS[n].summary}" for n in names),
        f"  {'%agentfm help':<{width}}  This overview.",
        f"  {'%ogpu':<{width}}  The OpenGPU scheduler agent (see %ogpu --help).",
        "",
        "--model takes what the gateway routes by: a peer id, an agent name (Poet) or an",
        "engine (llama3.2). Long work runs in the background so the cell returns at once and",
        "Stop buttons work; add --wait to block until it is done (scripts, nbclient, exports).",
        "",
        "Examples:",
        "  %agentfm gateway start              a local demo mesh for this session",
        "  %agentfm workers --live             the live worker table",
        "  %%agentfm chat --model Poet --wait  (the cell body is the prompt)",
        "  %%agentfm scatter -o df --wait      (one prompt per line of the body)",
    ]
    return "\n".join(lines)


def group_help(prefix: str) -> str:
    """Help for a word that only groups subcommands (``%agentfm gateway --help``)."""
    names = _ordered(prefix + " ")
    width = max(len(COMMANDS[name].usage_name) for name in names)
    return "\n".join(
        [
            f"%agentfm {prefix} (each takes --help):",
            "",
            *(f"  {COMMANDS[n].usage_name:<{width}}  {COMMANDS[n].summary}" for n in names),
        ]
    )


def wants_help(argv: list[str]) -> bool:
    return any(arg in ("-h", "--help") for arg in argv)


def parse(cmd: Command, argv: list[str]) -> Any:
    try:
        return cmd.parser.parse_args(argv)
    except UsageError as exc:
        raise UsageError(f"%agentfm {cmd.name}: {exc} (see %agentfm {cmd.name} --help)") from None


# (error type, label, word that makes the label redundant when the message already has it)
_LABELS: tuple[tuple[type[AgentFMError], str, str], ...] = (
    (AuthenticationError, "the gateway refused the API key", "key"),
    (GatewayConnectionError, "cannot reach the gateway", "reach"),
    (WorkerNotFoundError, "unknown peer", "peer"),
    (ModelNotFoundError, "no worker serves that model", "model"),
    (MeshOverloadedError, "every matching worker is busy", "capacity"),
)


def describe(exc: AgentFMError) -> str:
    """One line for people: a short label, then the gateway's own message."""
    message = " ".join(exc.message.split())
    for cls, label, word in _LABELS:
        if isinstance(exc, cls):
            return message if word in message.lower() else f"{label}: {message}"
    return message


def fail(cmd_name: str, message: str) -> UsageError:
    """A ``UsageError``: IPython prints it as one line, with no traceback."""
    return UsageError(f"%agentfm {cmd_name}: {message}")
