"""The typed error tree shared by the client, the gateway launcher and the magics.

Names and meanings follow the official ``agentfm-sdk`` so ``except`` clauses written for it keep
working. Every error carries ``.message``, ``.code`` (the gateway's machine code when there is
one) and ``.status`` (the HTTP status when there is one).
"""

from __future__ import annotations

from typing import Any


class AgentFMError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"status={self.status!r})"
        )


class AuthenticationError(AgentFMError):
    """401 from the gateway: bearer token missing or wrong."""


class GatewayConnectionError(AgentFMError):
    """The gateway cannot be reached, or the transport failed mid-stream."""


class GatewayInternalError(AgentFMError):
    """The gateway answered a well-formed ``internal_error`` envelope."""


class GatewayProtocolError(AgentFMError):
    """The gateway answered something that cannot be decoded."""


class WorkerNotFoundError(AgentFMError):
    """The peer id is not in the gateway's current telemetry."""


class WorkerStreamError(AgentFMError):
    """The worker's stream failed after the task started."""


class WorkerUnreachableError(AgentFMError):
    """The worker is known but the gateway could not dial it."""


class ModelNotFoundError(AgentFMError):
    """No worker matches the requested model (peer id, agent name or engine)."""


class MeshOverloadedError(AgentFMError):
    """Every matching worker is at capacity (503)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after


class InvalidRequestError(AgentFMError):
    """Any other 4xx: malformed request, bad model field, refused by a trust gate."""


class ArtifactError(AgentFMError):
    """The artifact zip is missing, corrupt or unsafe (zip-slip, links, size cap)."""


class TaskExecutionError(AgentFMError):
    """The worker accepted the task but the agent failed on its side."""


ERROR_CODES: dict[str, type[AgentFMError]] = {
    "unauthorized": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "model_not_found": ModelNotFoundError,
    "mesh_overloaded": MeshOverloadedError,
    "async_capacity_exhausted": MeshOverloadedError,
    "worker_unreachable": WorkerUnreachableError,
    "worker_stream_failed": WorkerStreamError,
    "internal_error": GatewayInternalError,
    "model_required": InvalidRequestError,
    "prompt_required": InvalidRequestError,
    "unsupported_prompt_type": InvalidRequestError,
    "invalid_request_error": InvalidRequestError,
    "method_not_allowed": InvalidRequestError,
    "rate_limited": InvalidRequestError,
    "bad_peer_id": InvalidRequestError,
}


def error_from_envelope(body: Any, status: int) -> AgentFMError:
    """Map an OpenAI-style ``{"error": {...}}`` envelope to the matching typed error."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return GatewayProtocolError(f"undecodable error body (HTTP {status})", status=status)
    code = err.get("code") if isinstance(err.get("code"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else f"HTTP {status}"
    # An unknown (or missing) code is the base class, whatever the status: the SDK's contract,
    # so a newer gateway's new code never lands in a narrower ``except`` by accident.
    cls = ERROR_CODES.get(code or "", AgentFMError)
    return cls(str(message), code=code, status=status)


from_envelope = error_from_envelope  # the SDK's name


__all__ = [
    "ERROR_CODES",
    "AgentFMError",
    "ArtifactError",
    "AuthenticationError",
    "GatewayConnectionError",
    "GatewayInternalError",
    "GatewayProtocolError",
    "InvalidRequestError",
    "MeshOverloadedError",
    "ModelNotFoundError",
    "TaskExecutionError",
    "WorkerNotFoundError",
    "WorkerStreamError",
    "WorkerUnreachableError",
    "error_from_envelope",
    "from_envelope",
]
