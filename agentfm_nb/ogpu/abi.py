"""ABI fragments written from the published OpenGPU signatures (ogpu 0.2.3)."""

from __future__ import annotations

from typing import Any


def _fn(
    name: str,
    inputs: list[tuple[str, str]],
    outputs: list[tuple[str, str]] | None = None,
    *,
    view: bool = False,
) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": n, "type": t} for n, t in outputs or []],
        "stateMutability": "view" if view else "nonpayable",
    }


def _event(name: str, inputs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "event",
        "name": name,
        "anonymous": False,
        "inputs": [{"name": n, "type": t, "indexed": False} for n, t in inputs],
    }


def _error(name: str, inputs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "error", "name": name, "inputs": [{"name": n, "type": t} for n, t in inputs]}


NEXUS_EVENTS: list[dict[str, Any]] = [
    _event(
        "Registered",
        [
            ("provider", "address"),
            ("registrantId", "uint256"),
            ("source", "address"),
            ("preferredEnvironment", "uint8"),
        ],
    ),
    _event(
        "Attempted", [("task", "address"), ("provider", "address"), ("suggestedPayment", "uint256")]
    ),
    _event("TaskPublished", [("task", "address"), ("source", "address")]),
    _event("TaskStatusChanged", [("task", "address"), ("status", "uint8")]),
    _event("SourcePublished", [("source", "address")]),
    _event("SourceStatusChanged", [("source", "address"), ("status", "uint8")]),
    _event("ResponseSubmitted", [("response", "address"), ("task", "address")]),
]

# The only custom errors the published Nexus / Terminal / Task declare (OpenZeppelin Ownable);
# every protocol check reverts with a require string.
KNOWN_ERRORS: list[dict[str, Any]] = [
    _error("OwnableUnauthorizedAccount", [("account", "address")]),
    _error("OwnableInvalidOwner", [("owner", "address")]),
]

NEXUS_ABI: list[dict[str, Any]] = [
    _fn(
        "register",
        [("source", "address"), ("provider", "address"), ("preferredEnvironment", "uint8")],
    ),
    _fn("unregister", [("source", "address"), ("provider", "address")]),
    _fn("attempt", [("task", "address"), ("provider", "address"), ("suggestedPayment", "uint256")]),
    *NEXUS_EVENTS,
    *KNOWN_ERRORS,
]

TERMINAL_EVENTS: list[dict[str, Any]] = [
    _event("AgentSet", [("account", "address"), ("agent", "address"), ("value", "bool")]),
]

TERMINAL_ABI: list[dict[str, Any]] = [
    _fn("setAgent", [("agent", "address"), ("value", "bool")]),
    _fn("isAgentOf", [("", "address"), ("", "address")], [("", "bool")], view=True),
    _fn("getIsAgentOf", [("master", "address"), ("agent", "address")], [("", "bool")], view=True),
    _fn("masterOf", [("", "address")], [("", "address")], view=True),
    *TERMINAL_EVENTS,
]

TASK_ABI: list[dict[str, Any]] = [
    _fn("getStatus", [], [("", "uint8")], view=True),
    _fn("getExpiryTime", [], [("", "uint256")], view=True),
    _fn(
        "taskParams",
        [],
        [
            ("source", "address"),
            ("config", "string"),
            ("expiryTime", "uint256"),
            ("payment", "uint256"),
        ],
        view=True,
    ),
]

SOURCE_ABI: list[dict[str, Any]] = [
    _fn("getStatus", [], [("", "uint8")], view=True),
]

# Lockup views of our test contracts, read only to fill InsufficientLockupError's numbers (the
# published chain keeps lockups in its Vault; there these reads fail and the numbers stay 0).
LOCKUP_VIEWS_ABI: list[dict[str, Any]] = [
    _fn("minLockup", [], [("", "uint256")], view=True),
    _fn("lockupOf", [("", "address")], [("", "uint256")], view=True),
]
