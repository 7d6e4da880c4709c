"""anywidget dashboards: ``WorkerTable``, ``ChatWidget``, ``ScatterGrid``, ``GatewayPanel``,
``WorkerInspector``, ``TaskHistory``, ``MeshDashboard``."""

from __future__ import annotations

from agentfm_nb.widgets.chat import ChatTurn, ChatWidget
from agentfm_nb.widgets.dashboard import MeshDashboard
from agentfm_nb.widgets.gateway_panel import GatewayPanel
from agentfm_nb.widgets.inspector import WorkerInspector
from agentfm_nb.widgets.scatter_grid import ScatterGrid
from agentfm_nb.widgets.task_history import TaskHistory
from agentfm_nb.widgets.worker_table import WorkerTable

__all__ = [
    "ChatTurn",
    "ChatWidget",
    "GatewayPanel",
    "MeshDashboard",
    "ScatterGrid",
    "TaskHistory",
    "WorkerInspector",
    "WorkerTable",
]
