"""Why the mesh refuses a task: unknown or offline worker, full worker, no worker for a model."""

from __future__ import annotations

from agentfm_nb.errors import AgentFMError


class UnknownWorker(AgentFMError):
    """No online worker has this peer id (HTTP 404 ``Worker not found or offline``)."""

    def __init__(self, peer_id: str) -> None:
        super().__init__("Worker not found or offline", code="worker_not_found", status=404)
        self.peer_id = peer_id


class WorkerBusy(AgentFMError):
    """The worker is running ``max_tasks`` tasks already."""

    def __init__(self, peer_id: str, max_tasks: int) -> None:
        super().__init__(
            f"worker {peer_id} is at capacity ({max_tasks} tasks)",
            code="worker_busy",
            status=503,
        )
        self.peer_id = peer_id


class RouteError(AgentFMError):
    """``model_not_found`` (404) or ``mesh_overloaded`` (503) from :meth:`Mesh.route`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, status=404 if code == "model_not_found" else 503)


__all__ = ["RouteError", "UnknownWorker", "WorkerBusy"]
