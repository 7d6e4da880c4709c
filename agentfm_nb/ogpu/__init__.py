"""The OpenGPU scheduler-agent role over web3: register / attempt / unregister signed by the
agent's key, typed errors, safe nonces, the event feed, a console widget and ``%ogpu``."""

from __future__ import annotations

from agentfm_nb.ogpu.agent import (
    Agent,
    ChainReader,
    TaskParams,
    attempt,
    is_agent_of,
    register_to,
    source_status,
    task_expiry,
    task_params,
    task_status,
    unregister_from,
)
from agentfm_nb.ogpu.chain import ChainConfig
from agentfm_nb.ogpu.enums import Environment, SourceStatus, TaskStatus
from agentfm_nb.ogpu.errors import (
    ChainConfigError,
    ChainConnectionError,
    ChainMismatchError,
    InsufficientLockupError,
    InvalidSignerError,
    MissingSignerError,
    NotAgentError,
    OGPUError,
    SourceInactiveError,
    TaskAlreadyFinalizedError,
    TaskExpiredError,
    TxDroppedError,
    TxReplacedError,
    TxRevertedError,
    TxSendError,
    TxTimeoutError,
)
from agentfm_nb.ogpu.events import EventFeed, to_dataframe
from agentfm_nb.ogpu.tx import Receipt

__all__ = [
    "Agent",
    "ChainConfig",
    "ChainConfigError",
    "ChainConnectionError",
    "ChainMismatchError",
    "ChainReader",
    "Environment",
    "EventFeed",
    "InsufficientLockupError",
    "InvalidSignerError",
    "MissingSignerError",
    "NotAgentError",
    "OGPUError",
    "Receipt",
    "SourceInactiveError",
    "SourceStatus",
    "TaskAlreadyFinalizedError",
    "TaskExpiredError",
    "TaskParams",
    "TaskStatus",
    "TxDroppedError",
    "TxReplacedError",
    "TxRevertedError",
    "TxSendError",
    "TxTimeoutError",
    "attempt",
    "is_agent_of",
    "register_to",
    "source_status",
    "task_expiry",
    "task_params",
    "task_status",
    "to_dataframe",
    "unregister_from",
]
