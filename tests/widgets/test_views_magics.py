"""``%agentfm history``, ``%agentfm dashboard`` and ``%agentfm inspect`` in a real IPython shell
against a real gateway: widgets and DataFrames, and one-line errors for bad input."""

from __future__ import annotations

from typing import Any

from agentfm_nb.client import AgentFMClient
from agentfm_nb.journal import journal
from agentfm_nb.widgets import MeshDashboard, WorkerInspector
from tests.magics.conftest import Shell
from tests.magics.conftest import connected as connected
from tests.magics.conftest import ip as ip


def test_history_dashboard_and_inspect_magics(connected: Shell, gateway: Any) -> None:
    journal.clear()
    with AgentFMClient(gateway.url) as client:
        echo = next(w.peer_id for w in client.workers.list() if w.name == "Echo")
    ran = connected.run(f"%agentfm run --peer {echo} 'from the magic'")
    assert ran.ok, ran.err
    ran = connected.run("%agentfm history -o tasks")
    assert ran.ok and "Stored 1 task(s) in `tasks`." in ran.out, ran.err
    frame = connected.ns["tasks"]
    assert frame["prompt"].tolist() == ["from the magic"] and frame["status"].tolist() == ["done"]
    ran = connected.run("%agentfm history --limit 5")
    assert ran.ok and "TaskHistory: 1 tasks (1 done)" in ran.out, (ran.out, ran.err)
    views: list[Any] = []
    try:
        ran = connected.run("%agentfm inspect Poet -o ins")
        assert ran.ok, ran.err
        views.append(connected.ns["ins"])
        assert isinstance(views[-1], WorkerInspector)
        ran = connected.run("%agentfm dashboard --interval 0.5 -o dash")
        assert ran.ok, ran.err
        views.append(connected.ns["dash"])
        assert isinstance(views[-1], MeshDashboard)
        bad = connected.run("%agentfm inspect Nobody")
        assert "%agentfm inspect: no worker matches 'Nobody'" in bad.one_line_error()
        bad = connected.run("%agentfm dashboard --interval 0")
        assert "--interval must be more than 0" in bad.one_line_error()
    finally:
        for view in views:
            view.close()
        journal.clear()
