"""``%agentfm history``, ``%agentfm dashboard``, ``%agentfm inspect PEER``: the task journal,
the mesh's trends and one worker up close, as live widgets (or DataFrames with -o)."""

from __future__ import annotations

from typing import Any

from agentfm_nb.magics._commands import argument, command, fail, show
from agentfm_nb.magics._session import check_var, current_client, store


@command("history", "Show the tasks this kernel dispatched (live), or a DataFrame with -o.")
@argument("--peer", metavar="PEER", default=None, help="only tasks sent to PEER (a peer id)")
@argument("--limit", metavar="N", type=int, default=1000, help="keep the newest N rows")
@argument("-o", "--output", metavar="VAR", default=None, help="store a DataFrame in VAR instead")
def history(shell: Any, args: Any, cell: str | None) -> None:
    """Every task this kernel sent to the mesh: prompt, agent, peer, status, time, files."""
    check_var(args.output, cmd="history")
    if args.limit < 1:
        raise fail("history", "--limit must be 1 or more")
    from agentfm_nb.journal import journal

    if args.output is not None:
        frame = journal.to_dataframe(peer_id=args.peer).tail(args.limit)
        store(shell, args.output, frame.reset_index(drop=True))
        print(f"Stored {len(frame)} task(s) in `{args.output}`.")
        return
    from agentfm_nb.widgets import TaskHistory

    view = TaskHistory(current_client(), peer_id=args.peer, limit=args.limit)
    show(view)
    view.publish()


@command("dashboard", "Show the mesh's tasks/min, latency, success rate and online workers.")
@argument("--interval", metavar="S", type=float, default=2.0, help="seconds between samples")
@argument("-o", "--output", metavar="VAR", default=None, help="store the dashboard in VAR too")
def dashboard(shell: Any, args: Any, cell: str | None) -> None:
    """Live sparklines of the gateway's /metrics and events (``.dataframe`` on the object)."""
    check_var(args.output, cmd="dashboard")
    if not args.interval > 0:
        raise fail("dashboard", "--interval must be more than 0")
    client = current_client()
    client.health()  # no gateway fails the cell in one line, not a widget stuck "connecting"
    from agentfm_nb.widgets import MeshDashboard

    view = MeshDashboard(client, interval=args.interval)
    if args.output is not None:
        store(shell, args.output, view)
    show(view)


@command("inspect", "Show one worker: facts, telemetry sparklines, its tasks, Dispatch.")
@argument("peer", metavar="PEER", help="a peer id or an agent name")
@argument("-o", "--output", metavar="VAR", default=None, help="store the inspector in VAR too")
def inspect(shell: Any, args: Any, cell: str | None) -> None:
    """One worker up close, live; Dispatch sends it a prompt, History lists this kernel's tasks."""
    check_var(args.output, cmd="inspect")
    client = current_client()
    from agentfm_nb.client._shared import match_model

    if not match_model(client.workers.list(), args.peer):
        raise fail("inspect", f"no worker matches {args.peer!r} (peer id, agent name or engine)")
    from agentfm_nb.widgets import WorkerInspector

    view = WorkerInspector(args.peer, client)
    if args.output is not None:
        store(shell, args.output, view)
    show(view)
