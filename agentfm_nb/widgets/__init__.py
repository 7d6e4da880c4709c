"""anywidget dashboards: ``WorkerTable``, ``ChatWidget``, ``ScatterGrid``, ``GatewayPanel``."""

from __future__ import annotations

from agentfm_nb.widgets.chat import ChatTurn, ChatWidget
from agentfm_nb.widgets.gateway_panel import GatewayPanel
from agentfm_nb.widgets.scatter_grid import ScatterGrid
from agentfm_nb.widgets.worker_table import WorkerTable

__all__ = ["ChatTurn", "ChatWidget", "GatewayPanel", "ScatterGrid", "WorkerTable"]
