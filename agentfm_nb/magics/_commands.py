"""``%agentfm``'s subcommands on the shared registry, and how its failures read."""

from __future__ import annotations

from IPython.core.error import UsageError

from agentfm_nb.errors import (
    AgentFMError,
    AuthenticationError,
    GatewayConnectionError,
    MeshOverloadedError,
    ModelNotFoundError,
    WorkerNotFoundError,
)
from agentfm_nb.magics._registry import Command, Registry, argument, show, split_line, wants_help

# (error type, label, word that makes the label redundant when the message already has it)
_LABELS: tuple[tuple[type[AgentFMError], str, str], ...] = (
    (AuthenticationError, "the gateway refused the API key", "key"),
    (GatewayConnectionError, "cannot reach the gateway", "reach"),
    (WorkerNotFoundError, "unknown peer", "peer"),
    (ModelNotFoundError, "no worker serves that model", "model"),
    (MeshOverloadedError, "every matching worker is busy", "capacity"),
)


def describe(exc: AgentFMError) -> str:
    """One line for people: a short label, then the gateway's own message."""
    message = " ".join(exc.message.split())
    for cls, label, word in _LABELS:
        if isinstance(exc, cls):
            return message if word in message.lower() else f"{label}: {message}"
    return message


def _describe(cmd: Command, exc: BaseException) -> str | None:
    if isinstance(exc, AgentFMError):
        hint = ""
        if isinstance(exc, GatewayConnectionError) and not cmd.name.startswith("gateway"):
            hint = "; start one with %agentfm gateway start, or %agentfm connect URL"
        return describe(exc) + hint
    return None


AGENTFM = Registry(
    "agentfm",
    title="AgentFM magics (each subcommand takes --help):",
    key_hint="put the key in an environment variable and pass its name: "
    "--api-key-env AGENTFM_API_KEY",
    order=("connect", "gateway start", "gateway stop", "gateway status", "workers", "chat"),
    extra_rows=(("%ogpu", "The OpenGPU scheduler agent (see %ogpu --help)."),),
    notes=(
        "--model takes what the gateway routes by: a peer id, an agent name (Poet) or an",
        "engine (llama3.2). Long work runs in the background so the cell returns at once and",
        "Stop buttons work; add --wait to block until it is done (scripts, nbclient, exports).",
        "Files agents write are extracted per task from the gateway's artifacts folder",
        "(./agentfm_artifacts; see --artifacts-dir on connect and gateway start).",
        "",
        "Examples:",
        "  %agentfm gateway start              a local demo mesh for this session",
        "  %agentfm workers --live             the live worker table",
        "  %%agentfm chat --model Poet --wait  (the cell body is the prompt)",
        "  %%agentfm scatter -o df --wait      (one prompt per line of the body)",
    ),
    describe=_describe,
)

COMMANDS = AGENTFM.commands
command = AGENTFM.command
fail = AGENTFM.fail

__all__ = [
    "AGENTFM",
    "COMMANDS",
    "Command",
    "UsageError",
    "argument",
    "command",
    "describe",
    "fail",
    "show",
    "split_line",
    "wants_help",
]
