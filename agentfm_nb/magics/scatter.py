"""``%%agentfm scatter``: fan prompts out over the mesh with a live ScatterGrid."""

from __future__ import annotations

import concurrent.futures
import contextlib
import re
from typing import Any

from agentfm_nb.magics._commands import argument, command, fail, show
from agentfm_nb.magics._session import check_var, current_client, store, when_done

_FROM = re.compile(r"""^\s*([A-Za-z_]\w*)\s*(?:\[\s*(['"]?)(.+?)\2\s*\])?\s*$""")


def prompts_from_frame(shell: Any, spec: str) -> list[str]:
    """``DF[COL]`` (or a Series / list name) from the user namespace, as a list of strings."""
    match = _FROM.match(spec)
    if match is None:
        raise fail("scatter", f"--from takes DF[COL], e.g. --from df[question]; got {spec!r}")
    name, _, column = match.groups()
    if name not in shell.user_ns:
        raise fail("scatter", f"--from: no variable named {name!r}")
    obj = shell.user_ns[name]
    if column is not None:
        columns = getattr(obj, "columns", None)
        if columns is None:
            raise fail("scatter", f"--from: {name!r} is not a DataFrame")
        if column not in columns:
            raise fail(
                "scatter", f"--from: {name!r} has no column {column!r} (columns: {list(columns)})"
            )
        obj = obj[column]
    elif getattr(obj, "columns", None) is not None:
        raise fail("scatter", f"--from: say which column of {name!r}: --from {name}[COLUMN]")
    if isinstance(obj, str) or not hasattr(obj, "__iter__"):
        raise fail("scatter", f"--from: {name!r} is not a column or a list of prompts")
    return ["" if value is None else str(value) for value in obj]


@command(
    "scatter", "Fan prompts (one per body line, or --from DF[COL]) out over the mesh.", cell=True
)
@argument("--model", metavar="M", default=None, help="the workers serving M: name or engine")
@argument("--peers", metavar="ID", nargs="+", default=None, help="use exactly these peers")
@argument("--concurrency", type=int, metavar="N", default=None, help="tasks in flight at most")
@argument("--retries", type=int, metavar="N", default=2, help="retries per prompt (default 2)")
@argument(
    "--from", dest="source", metavar="DF[COL]", default=None, help="prompts from a DataFrame column"
)
@argument("-o", "--output", metavar="VAR", default=None, help="store the results DataFrame")
@argument("--wait", action="store_true", help="block until every prompt is done")
def scatter(shell: Any, args: Any, cell: str | None) -> None:
    """Run many prompts concurrently, shown as a ScatterGrid; results as a DataFrame."""
    from agentfm_nb.widgets import ScatterGrid

    check_var(args.output, cmd="scatter")
    if args.model and args.peers:
        raise fail("scatter", "give --model or --peers, not both")
    if args.concurrency is not None and args.concurrency < 1:
        raise fail("scatter", "--concurrency must be at least 1")
    if args.retries < 0:
        raise fail("scatter", "--retries must be 0 or more")
    if args.source is not None:
        if cell is not None and cell.strip():
            raise fail("scatter", "give the prompts in the body or with --from, not both")
        prompts = prompts_from_frame(shell, args.source)
    else:
        prompts = [line.strip() for line in (cell or "").splitlines() if line.strip()]
    if not prompts:
        raise fail("scatter", "no prompts: one per line in the cell body, or --from DF[COL]")
    client = current_client()
    from agentfm_nb.magics.chat import resolve_peer, route_model

    if args.peers:
        peer_ids = [resolve_peer(client, peer, cmd="scatter") for peer in args.peers]
    elif args.model is not None:
        peer_ids = [w.peer_id for w in route_model(client, args.model, cmd="scatter")]
    else:
        # No routing given: the whole mesh, every worker that is online right now.
        peer_ids = [w.peer_id for w in client.workers.list()]
        if not peer_ids:
            raise fail("scatter", "no workers are online")
    grid = ScatterGrid(
        prompts,
        client=client,
        peer_ids=peer_ids,
        max_concurrency=args.concurrency,
        max_retries=args.retries,
    )
    show(grid)
    grid.start()
    if args.wait:
        try:
            grid.result()
        except KeyboardInterrupt:
            # Interrupt (Ctrl-C, the kernel's stop button): cancel what is left, keep what is
            # done, still hand VAR over, and fail the cell in one line so "run all" stops here.
            grid.stop()
            frame = settled_frame(grid)
            if args.output:
                store(shell, args.output, frame)
            raise fail("scatter", interrupted_line(frame, args.output)) from None
        if args.output:
            store(shell, args.output, settled_frame(grid))
        return
    if args.output:
        var = args.output
        when_done(grid, lambda _value: store(shell, var, settled_frame(grid)))
        print(f"Running in the background; `{var}` is set to the results DataFrame when done.")


_UNFINISHED = ("queued", "running", "retrying")


def settled_frame(grid: Any, timeout: float = 10.0) -> Any:
    """The grid's rows once its run has wound down: every unfinished row reads ``cancelled``.

    The run marks its rows cancelled as it unwinds; waiting for that is bounded (and a second
    Ctrl-C cuts it short), so rows it did not reach are marked here, never left ``running``.
    """
    with contextlib.suppress(KeyboardInterrupt, TimeoutError, concurrent.futures.TimeoutError):
        grid.result(timeout=timeout)
    frame = grid.dataframe
    unfinished = frame["status"].isin(_UNFINISHED)
    if unfinished.any():
        frame.loc[unfinished, "status"] = "cancelled"
    return frame


def interrupted_line(frame: Any, var: str | None) -> str:
    counts = frame["status"].value_counts().to_dict()
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    where = f"`{var}` holds the rows" if var else "the grid keeps the finished rows"
    return f"interrupted; {where} ({summary})"
