"""Every public name of agentfm-sdk 0.3.0 is in agentfm_nb, and the exception tree is the SDK's."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import agentfm
import agentfm.exceptions
import pytest

import agentfm_nb
import agentfm_nb.exceptions

# The SDK's public modules (imported by its tests and docs); each one's __all__ is the oracle.
PUBLIC_MODULES = (
    "streaming",
    "crypto",
    "artifacts",
    "models",
    "exceptions",
    "openai",
    "openai.models",
    "client",
    "async_client",
    "daemon",
    "webhook",
)
SDK_MODULES = {m: list(importlib.import_module(f"agentfm.{m}").__all__) for m in PUBLIC_MODULES}


def test_every_top_level_name_of_the_sdk() -> None:
    missing = [n for n in agentfm.__all__ if n != "__version__" and not hasattr(agentfm_nb, n)]
    assert missing == []
    assert set(agentfm.__all__) <= set(agentfm_nb.__all__)
    # as attributes of `import agentfm_nb as agentfm`, and via `from agentfm_nb import *`
    namespace: dict[str, object] = {}
    exec("from agentfm_nb import *", namespace)
    assert {"AgentFMRoutingWarning", "ArtifactManager", "SwarmKey"} <= set(namespace)


@pytest.mark.parametrize("module", sorted(SDK_MODULES))
def test_public_modules(module: str) -> None:
    ours = importlib.import_module(f"agentfm_nb.{module}")
    theirs = importlib.import_module(f"agentfm.{module}")
    for name in SDK_MODULES[module]:
        assert hasattr(ours, name), f"agentfm_nb.{module}.{name}"
        assert hasattr(theirs, name), f"the SDK lost agentfm.{module}.{name}"
        if inspect.isclass(getattr(theirs, name)):
            assert inspect.isclass(getattr(ours, name)), name


def test_submodules_are_attributes_of_the_package() -> None:
    assert (
        agentfm_nb.streaming.SentinelFilter
        is importlib.import_module("agentfm_nb.streaming").SentinelFilter
    )
    assert agentfm_nb.crypto.SwarmKey is agentfm_nb.SwarmKey
    assert agentfm_nb.artifacts.ArtifactManager is agentfm_nb.ArtifactManager


def test_agentfm_nb_openai_does_not_shadow_openai() -> None:
    # A fresh interpreter, so the import order is exactly "ours first".
    code = (
        "import agentfm_nb.openai, agentfm_nb, openai; "
        "from openai import OpenAI; "
        "assert openai.__name__ == 'openai' and 'site-packages' in openai.__file__; "
        "assert agentfm_nb.openai.ModelEntry is not None; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("name", agentfm.exceptions.__all__)
def test_exception_tree_matches(name: str) -> None:
    theirs = getattr(agentfm.exceptions, name)
    ours = getattr(agentfm_nb.exceptions, name)
    if not inspect.isclass(theirs):
        assert callable(ours)
        return
    # every SDK base (by name) is a base of ours: `except` clauses catch the same failures
    their_bases = {c.__name__ for c in theirs.__mro__ if c.__module__.startswith("agentfm")}
    our_bases = {c.__name__ for c in ours.__mro__}
    assert their_bases <= our_bases
    err = ours("boom", code="some_code", status=418)
    assert (err.message, err.code, err.status, str(err)) == ("boom", "some_code", 418, "boom")
    assert repr(err) == repr(theirs("boom", code="some_code", status=418))
    assert ours is getattr(agentfm_nb, name, ours)


ENVELOPES = [
    ({"error": {"message": "m", "code": "model_not_found"}}, 404),
    ({"error": {"message": "m", "code": "mesh_overloaded"}}, 503),
    ({"error": {"message": "m", "code": "worker_unreachable"}}, 502),
    ({"error": {"message": "m", "code": "worker_stream_failed"}}, 502),
    ({"error": {"message": "m", "code": "internal_error"}}, 500),
    ({"error": {"message": "m", "code": "unauthorized"}}, 401),
    ({"error": {"message": "m", "code": "invalid_api_key"}}, 401),
    ({"error": {"message": "m", "code": "prompt_required"}}, 400),
    ({"error": {"message": "m", "code": "method_not_allowed"}}, 405),
    ({"error": {"message": "m", "code": "a_code_from_the_future"}}, 418),
    ({"error": {"message": "m"}}, 400),
    ({"error": "not an object"}, 500),
    (["not", "an", "envelope"], 502),
]


@pytest.mark.parametrize(("body", "status"), ENVELOPES)
def test_from_envelope_picks_the_sdk_class(body: object, status: int) -> None:
    theirs = agentfm.exceptions.from_envelope(body, status)  # type: ignore[arg-type]
    ours = agentfm_nb.exceptions.from_envelope(body, status)
    assert type(ours).__name__ == type(theirs).__name__
    assert (ours.code, ours.status) == (theirs.code, theirs.status)


def test_unknown_code_is_exactly_the_base_class() -> None:
    err = agentfm_nb.exceptions.from_envelope({"error": {"message": "x", "code": "new"}}, 418)
    assert type(err) is agentfm_nb.AgentFMError
