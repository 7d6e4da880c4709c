"""Per-kernel state shared by the magics: the session gateway, the client, result storage."""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from IPython.core.error import UsageError

if TYPE_CHECKING:
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.gateway import LocalMeshGateway

_lock = threading.Lock()
_gateway: LocalMeshGateway | None = None
_atexit_registered = False

# Conventional environment variable names ("AGENTFM_API_KEY", "OPENAI_KEY"): only names of this
# shape are ever echoed back, so a key pasted by mistake into --api-key-env never reaches output.
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def session_gateway() -> LocalMeshGateway | None:
    gw = _gateway
    if gw is not None and not gw.running:
        return None
    return gw


def set_session_gateway(gw: LocalMeshGateway | None) -> None:
    global _gateway, _atexit_registered
    with _lock:
        _gateway = gw
        if gw is not None and not _atexit_registered:
            # Kernel exit (restart, shutdown, nbclient teardown) must not leave a gateway behind.
            atexit.register(stop_session_gateway)
            _atexit_registered = True


def stop_session_gateway() -> bool:
    """Stop the session gateway if there is one; True when something was stopped."""
    global _gateway
    with _lock:
        gw, _gateway = _gateway, None
    if gw is None:
        return False
    with contextlib.suppress(Exception):
        gw.stop()
    return True


def api_key_from_env(var: str, *, cmd: str) -> str:
    """Read the key from the environment variable named ``var`` (never echo a value)."""
    if var in os.environ:
        key = os.environ[var]
        if not key:
            raise UsageError(f"%agentfm {cmd}: environment variable {var} is empty")
        return key
    if _ENV_NAME.fullmatch(var) and len(var) <= 64:
        raise UsageError(f"%agentfm {cmd}: environment variable {var} is not set")
    raise UsageError(
        f"%agentfm {cmd}: --api-key-env takes the NAME of an environment variable holding the "
        "key (e.g. AGENTFM_API_KEY), and no variable of that name is set; the value is not "
        "shown in case it is a key"
    )


# The SDK's convention: a boss writes <task_id>.zip under ./agentfm_artifacts of its cwd.
DEFAULT_ARTIFACTS_DIR = "agentfm_artifacts"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def default_artifacts_dir(url: str) -> str | None:
    """Where the gateway at ``url`` writes its ``<task_id>.zip`` files, when that is knowable.

    The session gateway says where; a gateway on this machine writes ``./agentfm_artifacts``
    under its own working directory, taken to be ours when that folder exists here. Otherwise
    None: guessing wrong would make every task that writes files wait for a zip that never
    comes (a remote gateway keeps them on its own disk).
    """
    gw = session_gateway()
    if gw is not None and gw.url.rstrip("/") == url.rstrip("/"):
        return str(gw.artifacts_dir)
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError):
        return None
    local = os.path.abspath(DEFAULT_ARTIFACTS_DIR)
    if host in _LOOPBACK and os.path.isdir(local):
        return local
    return None


def artifacts_option(value: str) -> str | None:
    """``--artifacts-dir DIR`` (absolute now, so a later ``%cd`` does not move it) or ``none``."""
    if value.lower() == "none":
        return None
    return os.path.abspath(os.path.expanduser(value))


def current_client() -> AgentFMClient:
    """The session's client: the one connect / gateway start set, else a default one.

    The default one is made here rather than by ``get_default_client()`` so that, like a
    connected one, it collects the files agents write (the plain default collects none).
    """
    from agentfm_nb.client import _default

    with _lock:
        if _default._client is None:
            from agentfm_nb.client import AgentFMClient

            url = _default.default_gateway_url()
            client = AgentFMClient(url, artifacts_dir=default_artifacts_dir(url))
            _default.set_default_client(client)
    return _default.get_default_client()


def store(shell: Any, var: str, value: Any) -> None:
    shell.user_ns[var] = value


def check_var(var: str | None, *, cmd: str) -> None:
    if var is not None and not _IDENTIFIER.fullmatch(var):
        raise UsageError(f"%agentfm {cmd}: -o needs a Python variable name, got {var!r}")


def when_done(task: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback(task.result())`` once a background task finishes successfully.

    A daemon thread waits on ``.result()`` so the cell has already returned; failures and
    cancellations are shown by the widget itself, so they simply store nothing.
    """

    def wait() -> None:
        try:
            value = task.result()
        except BaseException:
            return
        callback(value)

    threading.Thread(target=wait, name="agentfm-magic-result", daemon=True).start()
