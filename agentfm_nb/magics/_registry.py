"""One command registry for both magics (``%agentfm`` and ``%ogpu``).

A subcommand is a plain function declared with IPython's ``@argument`` decorators and
registered with ``Registry.command``; its parser and its ``--help`` come from the same
declarations. ``Registry.run`` is the whole life of one magic call: help, refusal of literal
keys, parsing, dispatch, and the error contract.

The error contract: every failure is raised as ONE ``UsageError`` line (IPython prints
``UsageError: <line>`` with no traceback, and the cell fails, so a notebook run headless by
nbclient, papermill or CI stops there), and that line never contains a key.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from IPython.core import magic_arguments as _ma
from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser

from agentfm_nb._magic_help import plain_help
from agentfm_nb.magics._secrets import (
    environment_secrets,
    literal_key_option,
    redact,
    secret_pieces,
)

# (context, parsed args, cell body or None) -> value shown as the cell result (usually None).
# The context is what the magic hands its subcommands: the shell for %agentfm, the magic's
# own session holder for %ogpu.
Handler = Callable[[Any, Any, "str | None"], Any]
Decorator = Callable[[Handler], Handler]
Describe = Callable[["Command", BaseException], "str | None"]

HELP_WORDS = ("help", "-h", "--help")


# Typed wrapper: IPython's decorators carry no annotations.
def argument(*args: Any, **kwargs: Any) -> Decorator:
    return cast(Decorator, _ma.argument(*args, **kwargs))  # type: ignore[no-untyped-call]


def show(obj: Any) -> None:
    from IPython.display import display

    display(obj)  # type: ignore[no-untyped-call]


def split_line(line: str) -> list[str]:
    """Shell-like split that tolerates a lone apostrophe ("what's") in free-text prompts."""
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def wants_help(argv: Sequence[str]) -> bool:
    return any(arg in ("-h", "--help") for arg in argv)


def one_line(text: str) -> str:
    return " ".join(text.split())


def describe_common(exc: BaseException) -> str | None:
    """Failures of bad input that any subcommand may meet: a bad value, a missing file."""
    if isinstance(exc, OSError):  # a config file, an artifacts folder, a port
        if exc.strerror and exc.filename:
            return f"{exc.strerror}: {exc.filename}"
        return str(exc) or type(exc).__name__
    if isinstance(exc, ValueError):
        return str(exc)
    return None


@dataclass(frozen=True)
class Command:
    magic: str
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
        return f"%{'%' if self.cell else ''}{self.magic} {self.name}"

    def help(self) -> str:
        return plain_help(self.parser.format_help())


class Registry:
    """The subcommands of one magic, and how a call to it is parsed, run and fails."""

    def __init__(
        self,
        magic: str,
        *,
        title: str,
        key_hint: str,
        order: Sequence[str] = (),
        extra_rows: Sequence[tuple[str, str]] = (),
        notes: Sequence[str] = (),
        describe: Describe | None = None,
    ) -> None:
        self.magic = magic
        self.title = title
        self.key_hint = key_hint  # where a key goes instead of the magic line
        self.order = tuple(order)
        self.extra_rows = tuple(extra_rows)
        self.notes = tuple(notes)
        # Maps the failures a subcommand expects (gateway down, chain revert...) to a line;
        # None means "not one of ours" and the line names the exception type.
        self.describe = describe
        self.commands: dict[str, Command] = {}

    # -- declaring ---------------------------------------------------------------------------
    def command(self, name: str, summary: str, *, cell: bool = False) -> Decorator:
        """Register ``func`` (decorated with ``@argument``s) as ``%<magic> <name>``."""

        def register(func: Handler) -> Handler:
            # IPython's formatter puts one "%" before the prog itself.
            prog = f"{'%' if cell else ''}{self.magic} {name}"
            _ma.magic_arguments(prog)(func)  # type: ignore[no-untyped-call]
            self.commands[name] = Command(self.magic, name, summary, func, cell)
            return func

        return register

    # -- looking up --------------------------------------------------------------------------
    def resolve(self, tokens: Sequence[str]) -> tuple[Command | None, list[str]]:
        """The longest registered name at the start of ``tokens``, and the rest."""
        for width in (2, 1):
            name = " ".join(tokens[:width])
            if len(tokens) >= width and name in self.commands:
                return self.commands[name], list(tokens[width:])
        return None, list(tokens)

    def groups(self) -> set[str]:
        """Words that only group subcommands (``gateway`` in ``gateway start``)."""
        return {name.split()[0] for name in self.commands if " " in name}

    def _ordered(self, prefix: str = "") -> list[str]:
        names = [n for n in self.commands if n.startswith(prefix)]
        rank = {n: i for i, n in enumerate(self.order)}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))

    def _rows(self, names: Sequence[str], extra: Sequence[tuple[str, str]] = ()) -> list[str]:
        rows = [(self.commands[n].usage_name, self.commands[n].summary) for n in names]
        rows += list(extra)
        width = max(len(usage) for usage, _ in rows)
        return [f"  {usage:<{width}}  {summary}" for usage, summary in rows]

    def overview(self) -> str:
        help_row = (f"%{self.magic} help", "This overview.")
        lines = [self.title, "", *self._rows(self._ordered(), [help_row, *self.extra_rows])]
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines)

    def group_help(self, prefix: str) -> str:
        rows = self._rows(self._ordered(prefix + " "))
        return "\n".join([f"%{self.magic} {prefix} (each takes --help):", "", *rows])

    # -- failing -----------------------------------------------------------------------------
    def fail(self, name: str, message: str) -> UsageError:
        """A one-line ``UsageError`` for subcommand ``name`` (raise it)."""
        return UsageError(f"%{self.magic} {name}: {one_line(message)}")

    def parse(self, cmd: Command, argv: Sequence[str]) -> Any:
        try:
            return cmd.parser.parse_args(list(argv))
        except UsageError as exc:
            raise self.fail(cmd.name, f"{exc} (see %{self.magic} {cmd.name} --help)") from None

    # -- running -----------------------------------------------------------------------------
    def run(self, context: Any, line: str, cell: str | None = None) -> Any:
        """One call of the magic: returns the cell's value or raises one ``UsageError`` line."""
        tokens = split_line(line)
        try:
            return self._dispatch(context, tokens, cell)
        except UsageError as exc:
            failure = exc
        # Scrubbed here, once, whatever raised it (parser, subcommand or describe()), and raised
        # outside the handler so the unscrubbed one is not kept as its context. The cause
        # survives only for failures we did not expect (see _dispatch).
        secrets = secret_pieces(tokens) | environment_secrets()
        error = UsageError(one_line(redact(str(failure), secrets)))
        error.__cause__ = failure.__cause__
        raise error

    def _dispatch(self, context: Any, tokens: list[str], cell: str | None) -> Any:
        if not tokens or tokens[0] in HELP_WORDS:
            print(self._help_for(tokens[1:]))
            return None
        option = literal_key_option(tokens)
        if option is not None:
            cmd, _ = self.resolve(tokens)
            raise self.fail(
                cmd.name if cmd is not None else tokens[0],
                f"refusing a literal key after {option} (it would be saved with the notebook "
                f"and shown in outputs); {self.key_hint}",
            )
        cmd, argv = self.resolve(tokens)
        if cmd is None:
            if tokens[0] in self.groups():
                if wants_help(tokens[1:]):
                    print(self.group_help(tokens[0]))
                    return None
                subs = [n.split()[1] for n in self._ordered(tokens[0] + " ")]
                choice = " or ".join([", ".join(subs[:-1]), subs[-1]] if subs[1:] else subs)
                raise self.fail(tokens[0], f"say {choice} (see %{self.magic} help)")
            raise UsageError(
                f"%{self.magic}: unknown subcommand {tokens[0]!r} (see %{self.magic} help)"
            )
        if wants_help(argv):
            print(cmd.help())
            return None
        args = self.parse(cmd, argv)
        if cell is not None and not cmd.cell and cell.strip():
            raise UsageError(f"%%{self.magic} {cmd.name}: this subcommand takes no cell body")
        try:
            return cmd.handler(context, args, cell)
        except UsageError:
            raise
        except KeyboardInterrupt:
            # Ctrl-C / the kernel's stop button: fail the cell in one line, so "run all"
            # stops here; subcommands with something to hand over say so themselves.
            raise self.fail(cmd.name, "interrupted") from None
        except Exception as exc:
            line = self.describe(cmd, exc) if self.describe is not None else None
            if line is None:
                line = describe_common(exc)
            if line is not None:
                raise self.fail(cmd.name, line) from None
            # Not a failure we know: still one line for the user; the cause stays chained for
            # whoever debugs it (sys.last_value.__cause__).
            raise self.fail(cmd.name, f"{type(exc).__name__}: {exc}") from exc

    def _help_for(self, topic: Sequence[str]) -> str:
        cmd, _ = self.resolve(topic)
        if cmd is not None:
            return cmd.help()
        if topic[:1] and topic[0] in self.groups():
            return self.group_help(topic[0])
        return self.overview()
