"""Agent kinds: ``command`` (subprocess), ``python`` (callable), ``openai`` (HTTP upstream)."""

from __future__ import annotations

from collections.abc import Collection

from agentfm_nb.mesh.agents.base import Agent, AgentError, LineSplitter
from agentfm_nb.mesh.agents.guard import AgentGuard
from agentfm_nb.mesh.config import WorkerSpec


def build_agent(
    spec: WorkerSpec, *, hidden_env: Collection[str] = (), guard: AgentGuard | None = None
) -> Agent:
    """The agent for a worker spec; import errors of python agents surface as AgentError.

    ``hidden_env`` names variables a command agent must not inherit (other workers' upstream
    keys); ``guard`` tags and watches its processes.
    """
    if spec.kind == "command":
        from agentfm_nb.mesh.agents.command import CommandAgent

        assert spec.argv is not None
        return CommandAgent(
            spec.argv, cwd=spec.cwd, env=spec.env, hidden_env=hidden_env, guard=guard
        )
    if spec.kind == "python":
        from agentfm_nb.mesh.agents.pyfunc import PythonAgent

        assert spec.callable is not None
        return PythonAgent.from_target(spec.callable, base_dir=spec.cwd)
    from agentfm_nb.mesh.agents.upstream import OpenAIUpstreamAgent

    assert spec.base_url is not None and spec.model is not None
    return OpenAIUpstreamAgent(spec.base_url, spec.model, api_key_env=spec.api_key_env)


__all__ = ["Agent", "AgentError", "LineSplitter", "build_agent"]
