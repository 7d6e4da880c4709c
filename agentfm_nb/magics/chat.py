"""``%%agentfm chat`` (a streaming chat cell) and ``%agentfm run`` (plain streamed stdout)."""

from __future__ import annotations

import contextlib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentfm_nb.client._shared import match_model, pick_least_loaded
from agentfm_nb.magics._commands import argument, command, fail, show
from agentfm_nb.magics._session import check_var, current_client, store, when_done

_ESCAPE = "write {{ and }} for literal braces, or add --no-interpolate"


@dataclass(frozen=True)
class ChatReply:
    """What ``%%agentfm chat -o VAR`` stores: the answer text plus where and how it ran."""

    text: str
    peer_id: str | None = None
    duration_s: float | None = None
    status: str = "done"
    error: str | None = None
    artifacts: list[Any] = field(default_factory=list)
    task_id: str | None = None

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> ChatReply:
        return cls(
            text=str(message.get("content") or ""),
            peer_id=message.get("peer_id"),
            duration_s=message.get("duration_s"),
            status=str(message.get("status") or "done"),
            error=message.get("error"),
            artifacts=list(message.get("artifacts") or []),
            task_id=message.get("task_id"),
        )

    def __str__(self) -> str:
        return self.text


def _reply(value: Any) -> Any:
    return ChatReply.from_message(value) if isinstance(value, Mapping) else value


def interpolate(text: str, namespace: Mapping[str, Any], *, cmd: str) -> str:
    """Fill ``{name}`` (and ``{name.attr}``, ``{name[0]}``, ``{name:>8}``) from the namespace.

    Anything the template or a value's ``__format__`` objects to (``{x:%}``, ``{}``, an
    unbalanced brace) is one line naming the field, never a traceback.
    """
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:  # "Single '}' encountered", "expected '}' before end of string"
        raise fail(cmd, f"cannot read the prompt's {{...}} fields ({exc}); {_ESCAPE}") from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        conv = f"!{conversion}" if conversion else ""
        field = "{" + name + conv + (f":{spec}" if spec else "") + "}"
        if not name or name[0].isdigit():
            raise fail(cmd, f"the prompt's {field} names no variable; {_ESCAPE}")
        try:
            string.Formatter().vformat(field, (), dict(namespace))
        except KeyError as exc:
            raise fail(
                cmd,
                f"the prompt uses {{{exc.args[0]}}} but no variable of that name exists; {_ESCAPE}",
            ) from None
        except Exception as exc:  # format specs and user objects can raise anything
            raise fail(cmd, f"cannot fill the prompt's {field} ({exc}); {_ESCAPE}") from None
    try:
        return string.Formatter().vformat(text, (), dict(namespace))
    except Exception as exc:  # a value whose __format__ changed its mind
        raise fail(cmd, f"cannot fill the prompt's {{...}} fields ({exc}); {_ESCAPE}") from None


def resolve_peer(client: Any, peer: str, *, cmd: str) -> str:
    """Accept a full peer id or an unambiguous prefix of one (as shown in the worker table)."""
    workers = client.workers.list()
    ids = [str(w.peer_id) for w in workers]
    if peer in ids:
        return peer
    matches = [pid for pid in ids if pid.startswith(peer)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise fail(cmd, f"peer prefix {peer!r} matches {len(matches)} workers; give more of it")
    raise fail(cmd, f"unknown peer {peer!r}: no online worker has that peer id")


def route_model(client: Any, model: str, *, cmd: str) -> list[Any]:
    """Workers serving ``model`` (as the gateway would route it), or a one-line error."""
    matches = match_model(client.workers.list(), model)
    if not matches:
        raise fail(cmd, f"no online worker serves model {model!r} (peer id, agent name or engine)")
    return matches


def prompt_from(args: Any, cell: str | None, *, cmd: str) -> str:
    words = getattr(args, "prompt", None) or []
    text = cell if cell is not None and cell.strip() else " ".join(words)
    if not text.strip():
        raise fail(cmd, "no prompt: write it in the cell body under %%agentfm " + cmd)
    return text.strip("\n")


@command("chat", "Chat with a worker: the cell body is the prompt, streamed live.", cell=True)
@argument("--peer", metavar="ID", default=None, help="peer id (or unique prefix) to ask")
@argument(
    "--model",
    metavar="M",
    default=None,
    help="route like the gateway: agent name, engine or peer id",
)
@argument("-o", "--output", metavar="VAR", default=None, help="store the reply in VAR when done")
@argument(
    "--no-interpolate", action="store_true", help="send {braces} as written instead of filling"
)
@argument("--wait", action="store_true", help="block until the reply is complete")
@argument("prompt", nargs="*", help="prompt words (line form; the cell body wins)")
def chat(shell: Any, args: Any, cell: str | None) -> None:
    """Send the cell body as a prompt and stream the answer into a ChatWidget."""
    from agentfm_nb.widgets import ChatWidget

    check_var(args.output, cmd="chat")
    if args.peer and args.model:
        raise fail("chat", "give --peer or --model, not both")
    prompt = prompt_from(args, cell, cmd="chat")
    if not args.no_interpolate:
        prompt = interpolate(prompt, shell.user_ns, cmd="chat")
    client = current_client()
    if args.peer:
        peer_id = resolve_peer(client, args.peer, cmd="chat")
    elif args.model:
        # Least-loaded worker of the first matching tier, like the gateway's own routing.
        best = pick_least_loaded(route_model(client, args.model, cmd="chat"))
        if best is None:
            raise fail("chat", f"every worker serving {args.model!r} is busy; try again shortly")
        peer_id = best.peer_id
    else:
        raise fail("chat", "say who answers: --model NAME (agent name or engine) or --peer ID")
    widget = ChatWidget(client, peer_id=peer_id)
    show(widget)
    turn = widget.send(prompt)
    if args.wait:
        try:
            value = turn.result()
        except KeyboardInterrupt:
            # Fail the cell in one line (so "run all" stops here); the partial reply is kept,
            # in the chat and (marked cancelled) in VAR.
            widget.stop()
            where = "the chat keeps the reply so far"
            if args.output:
                with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop waiting
                    store(shell, args.output, _reply(turn.result(timeout=10)))
                    where = f"`{args.output}` holds the reply so far"
            raise fail("chat", f"interrupted; {where}") from None
        if args.output:
            store(shell, args.output, _reply(value))
        return
    if args.output:
        var = args.output
        when_done(turn, lambda value: store(shell, var, _reply(value)))
        print(f"Streaming in the background; `{var}` is set when the reply is complete.")


@command("run", "Run one prompt on a peer and print its output as it streams.")
@argument("--peer", metavar="ID", required=True, help="peer id (or unique prefix) to run on")
@argument("-o", "--output", metavar="VAR", default=None, help="store the TaskResult in VAR")
@argument("prompt", nargs="+", help="the prompt")
def run(shell: Any, args: Any, cell: str | None) -> None:
    """Run PROMPT on one worker, printing stdout line by line (Ctrl-C / interrupt cancels)."""
    check_var(args.output, cmd="run")
    prompt = prompt_from(args, cell, cmd="run")
    client = current_client()
    peer_id = resolve_peer(client, args.peer, cmd="run")
    if args.output:
        result = client.tasks.run(worker_id=peer_id, prompt=prompt)
        print(result.text, end="" if result.text.endswith("\n") else "\n")
        store(shell, args.output, result)
        return
    stream = client.tasks.stream(worker_id=peer_id, prompt=prompt)
    try:
        for chunk in stream:
            if chunk.kind == "text":
                print(chunk.text, end="" if chunk.text.endswith("\n") else "\n", flush=True)
    except KeyboardInterrupt:
        raise fail("run", "interrupted; the agent was stopped") from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
