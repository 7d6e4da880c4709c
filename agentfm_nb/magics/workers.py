"""``%agentfm workers``: the mesh radar, or a DataFrame of it."""

from __future__ import annotations

from typing import Any

from agentfm_nb.client._shared import match_model
from agentfm_nb.magics._commands import argument, command, show
from agentfm_nb.magics._session import check_var, current_client, store


@command("workers", "Show the mesh's workers (a live table, or a DataFrame with -o).")
@argument("--model", metavar="M", default=None, help="only workers serving M (name or engine)")
@argument("--available", action="store_true", help="only workers with a free slot")
@argument("--live", action="store_true", help="keep the table updating from the gateway")
@argument("-o", "--output", metavar="VAR", default=None, help="store a DataFrame in VAR instead")
def workers(shell: Any, args: Any, cell: str | None) -> None:
    """List the workers on the mesh as a WorkerTable (or a pandas DataFrame with -o VAR)."""
    check_var(args.output, cmd="workers")
    client = current_client()
    # Listed up front even for the widget: no gateway or a bad key fails the cell in one line.
    listed = client.workers.list()
    if args.model is not None:
        listed = match_model(listed, args.model)
    if args.available:
        listed = [w for w in listed if w.is_available]
    if args.output is not None:
        from agentfm_nb.scatter.frames import workers_to_dataframe

        store(shell, args.output, workers_to_dataframe(listed))
        print(f"Stored {len(listed)} worker(s) in `{args.output}`.")
        return
    from agentfm_nb.widgets import WorkerTable

    table = WorkerTable(client, live=args.live, model=args.model, available_only=args.available)
    show(table)
    # The first listing is awaited and published from this cell: updates made on the
    # background loop belong to no running cell, so nbclient (quickstart, exports) would save
    # an empty table (and a "connecting" fallback) otherwise.
    table.refresh()
    table.publish()
