"""Every public method and argument of the SDK's classes is accepted by ours, same way.

Introspection of the two libraries side by side: a method the SDK has is there, a parameter the
SDK names is there (or ours takes ``**kwargs``), a keyword-only one can be passed by keyword, a
positional one sits at the same position. Defaults may differ (``docs/compatibility.md``).
"""

from __future__ import annotations

import inspect

import agentfm
import agentfm.async_client as sdk_async
import agentfm.client as sdk_sync
import agentfm.openai._namespaces as sdk_openai
import pytest

import agentfm_nb
from agentfm_nb.client.resources import openai as our_openai
from agentfm_nb.client.resources import tasks as our_tasks
from agentfm_nb.client.resources import workers as our_workers

PAIRS = [
    (sdk_sync._WorkersNamespace, our_workers.Workers),
    (sdk_async._AsyncWorkersNamespace, our_workers.AsyncWorkers),
    (sdk_sync._TasksNamespace, our_tasks.Tasks),
    (sdk_async._AsyncTasksNamespace, our_tasks.AsyncTasks),
    (sdk_openai._ChatCompletions, our_openai.ChatCompletions),
    (sdk_openai._Completions, our_openai.Completions),
    (sdk_openai._Models, our_openai.Models),
    (sdk_openai._AsyncChatCompletions, our_openai.AsyncChatCompletions),
    (sdk_openai._AsyncCompletions, our_openai.AsyncCompletions),
    (sdk_openai._AsyncModels, our_openai.AsyncModels),
    (agentfm.AgentFMClient, agentfm_nb.AgentFMClient),
    (agentfm.AsyncAgentFMClient, agentfm_nb.AsyncAgentFMClient),
    (agentfm.LocalMeshGateway, agentfm_nb.LocalMeshGateway),
    (agentfm.WebhookReceiver, agentfm_nb.WebhookReceiver),
    (agentfm.ArtifactManager, agentfm_nb.ArtifactManager),
    (agentfm.SwarmKey, agentfm_nb.SwarmKey),
]
_VAR = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _methods(cls: type) -> dict[str, inspect.Signature]:
    # A namespace (client.workers, ...) is built by the client: its __init__ is not public.
    public_init = not cls.__name__.startswith("_")
    dunders = ("__init__", "__enter__", "__exit__") if public_init else ()
    found = {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") or name in dunders
    }
    for name, member in inspect.getmembers(cls, inspect.ismethod):  # classmethods
        if not name.startswith("_"):
            found[name] = inspect.signature(member)
    return found


def _params(sig: inspect.Signature) -> list[inspect.Parameter]:
    return [p for n, p in sig.parameters.items() if n not in ("self", "cls")]


@pytest.mark.parametrize(("sdk", "ours"), PAIRS, ids=[s.__name__ for s, _ in PAIRS])
def test_same_methods_and_arguments(sdk: type, ours: type) -> None:
    theirs, mine = _methods(sdk), _methods(ours)
    problems = []
    for name, sig in theirs.items():
        if name not in mine:
            problems.append(f"{name}: missing")
            continue
        our_params = _params(mine[name])
        by_name = {p.name: p for p in our_params}
        takes_any_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in our_params)
        for index, p in enumerate(_params(sig)):
            if p.kind in _VAR:
                continue
            ours_p = by_name.get(p.name)
            if ours_p is None:
                if not takes_any_kw:
                    problems.append(f"{name}({p.name}): missing")
            elif p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and (
                ours_p.kind is not p.kind or our_params.index(ours_p) != index
            ):
                problems.append(f"{name}({p.name}): not at position {index}")
            elif p.kind is inspect.Parameter.KEYWORD_ONLY and ours_p.kind not in (
                inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                problems.append(f"{name}({p.name}): cannot be passed by keyword")
    assert problems == []


def test_client_namespaces_and_attributes() -> None:
    with agentfm_nb.AgentFMClient("http://127.0.0.1:9", api_key=None) as client:
        for attr in ("workers", "tasks", "openai", "artifacts", "gateway_url", "retries"):
            assert hasattr(client, attr), attr
        assert hasattr(client.openai.chat.completions, "create")
        assert hasattr(client.openai.completions, "create")
        assert hasattr(client.openai.models, "list")
