"""The checks every task dispatch passes before it starts (``/api/execute`` and its async form),
in ``boss/api_handlers.go``'s order and words: body, required fields, worker, task_id claim."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from agentfm_nb.mesh.peerid import is_valid_peer_id
from agentfm_nb.mesh.routes.common import GatewayState, text_error
from agentfm_nb.mesh.routes.decode import GoDecodeError, decode
from agentfm_nb.wire import ERROR_PREFIX

EXECUTE_FIELDS = {
    "worker_id": "string",
    "prompt": "string",
    "task_id": "string",
    "feedback": "string",
    "feedback_rating": "number",
}
ASYNC_FIELDS = {"worker_id": "string", "prompt": "string", "webhook_url": "string"}


class Refused(Exception):
    """An answer given before any task starts, with the ``tasks_total`` status it counts as."""

    def __init__(self, response: Response, status: str = "error") -> None:
        super().__init__(response.status_code)
        self.response = response
        self.status = status


def capacity_line(current: int, maximum: int) -> bytes:
    """The full worker's whole answer (``worker/handler.go``): one line, no sentinel."""
    return (
        f"{ERROR_PREFIX}Worker is at max capacity ({current}/{maximum}). Try another worker.\n"
    ).encode()


def parse_request(raw: bytes, fields: dict[str, Any]) -> dict[str, Any]:
    """The decoded body with its two required fields present."""
    try:
        req = decode(raw, fields)
    except GoDecodeError:
        raise Refused(text_error(400, "Invalid JSON payload")) from None
    if not req["worker_id"]:
        raise Refused(text_error(400, "worker_id is required"))
    if not req["prompt"]:
        raise Refused(text_error(400, "prompt is required"))
    return req


def check_worker(state: GatewayState, worker_id: str) -> None:
    """Table lookup first (404), then the id's syntax (400), then the trust gate (403)."""
    worker: Any = state.mesh.worker(worker_id)
    if worker is None or not worker.online:
        raise Refused(text_error(404, "Worker not found or offline"), "rejected")
    if not is_valid_peer_id(worker_id):
        raise Refused(text_error(400, "Invalid Worker ID format"))
    # (the real trust gate: an equivocator, or a peer under the honesty floor; the embedded
    # mesh has neither, so every snapshot says ``dispatch_allowed``)
    if not getattr(worker, "dispatch_allowed", True):
        reason = getattr(worker, "dispatch_refuse_reason", None) or "dispatch_not_allowed"
        raise Refused(text_error(403, f"dispatch refused: {reason}"), "rejected")


def claim(state: GatewayState, task_id: str) -> None:
    # Two tasks under one id would share one artifact path: refuse the second.
    if task_id in state.inflight:
        raise Refused(text_error(409, f"task_id {task_id} is already in flight"), "rejected")
    state.inflight.add(task_id)


__all__ = [
    "ASYNC_FIELDS",
    "EXECUTE_FIELDS",
    "Refused",
    "capacity_line",
    "check_worker",
    "claim",
    "parse_request",
]
