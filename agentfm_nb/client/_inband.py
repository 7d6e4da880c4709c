"""What a task's text says about how it went: the gateway answers some failures in-band.

A real AgentFM worker answers HTTP 200 in all of these cases, so only the text tells:

* at capacity: the whole body is ``❌ ERROR: Worker is at max capacity (n/m). Try another
  worker.`` and no sentinel (the task never ran);
* the agent failed: its stderr, then ``⚠️  Sandbox exited: exit status N`` (real gateway) or a
  last line ``❌ ERROR: ...`` (older embedded gateways);

``tasks.run`` returns that text as it is (the SDK's contract); scatter and
``tasks.run(..., raise_on_agent_error=True)`` read it with these helpers.
"""

from __future__ import annotations

import re

from agentfm_nb.errors import MeshOverloadedError, TaskExecutionError
from agentfm_nb.wire import ERROR_PREFIX

_CAPACITY_RE = re.compile(
    r"\A\s*" + re.escape(ERROR_PREFIX) + r"Worker is at max capacity \((\d+)/(\d+)\)[^\n]*\s*\Z"
)
_SANDBOX_RE = re.compile(r"^\W*Sandbox exited: (.+)$")


class WorkerAtCapacity(MeshOverloadedError):
    """The worker refused the task in-band (it never ran); ``max_tasks`` is its slot count."""

    def __init__(self, message: str, *, max_tasks: int | None, output: str) -> None:
        super().__init__(message, code="worker_at_capacity", status=200)
        self.max_tasks = max_tasks
        self.output = output


class AgentFailed(TaskExecutionError):
    """The agent ran and failed; ``output`` is everything it printed."""

    def __init__(self, message: str, *, output: str) -> None:
        super().__init__(message, code="agent_failed", status=200)
        self.output = output


def capacity_refusal(text: str) -> tuple[int, int] | None:
    """``(current, max)`` when ``text`` is a worker's capacity refusal, else ``None``."""
    if "max capacity" not in text:  # cheap test first: this runs on every scatter row
        return None
    m = _CAPACITY_RE.match(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def agent_failure(text: str) -> str | None:
    """The agent's own failure message when its output ends the way failures end, else None."""
    tail = text.rstrip()
    last = tail.rpartition("\n")[2].strip()
    if last.startswith(ERROR_PREFIX.strip()):
        return last[len(ERROR_PREFIX.strip()) :].strip() or last
    m = _SANDBOX_RE.match(last)
    if m is None:
        return None
    before = tail.rpartition("\n")[0].rstrip().rpartition("\n")[2].strip()
    exit_line = f"sandbox exited: {m.group(1).strip()}"
    return f"{before} ({exit_line})" if before else exit_line


def check_output(text: str, worker_id: str) -> None:
    """Raise ``WorkerAtCapacity`` / ``AgentFailed`` for an in-band failure in ``text``."""
    refused = capacity_refusal(text)
    if refused is not None:
        raise WorkerAtCapacity(
            f"worker {worker_id} is at max capacity ({refused[0]}/{refused[1]})",
            max_tasks=refused[1],
            output=text,
        )
    failure = agent_failure(text)
    if failure is not None:
        raise AgentFailed(failure, output=text)


__all__ = ["AgentFailed", "WorkerAtCapacity", "agent_failure", "capacity_refusal", "check_output"]
