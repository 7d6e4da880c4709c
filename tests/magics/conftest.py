"""A real IPython ``InteractiveShell`` with ``%load_ext agentfm_nb``, plus output capture."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from agentfm_nb.client import AgentFMClient, set_default_client
from agentfm_nb.magics._session import stop_session_gateway


@dataclass
class Ran:
    ok: bool
    out: str
    err: str
    error: BaseException | None

    def one_line_error(self) -> str:
        """The error as the user sees it: asserted to be exactly one line, no traceback."""
        assert not self.ok, f"expected an error, got out={self.out!r}"
        text = self.err.strip()
        assert "Traceback" not in text and "\n" not in text, text
        assert text.startswith(("UsageError: %agentfm", "UsageError: %%agentfm")), text
        return text


class Shell:
    def __init__(self, shell: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
        self.shell = shell
        self.capsys = capsys

    @property
    def ns(self) -> dict[str, Any]:
        return self.shell.user_ns  # type: ignore[no-any-return]

    def run(self, source: str) -> Ran:
        self.capsys.readouterr()
        result = self.shell.run_cell(source, store_history=False)
        captured = self.capsys.readouterr()
        return Ran(
            ok=result.success,
            out=captured.out,
            err=captured.err,
            error=result.error_in_exec or result.error_before_exec,
        )


@pytest.fixture
def ip(capsys: pytest.CaptureFixture[str]) -> Iterator[Shell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "agentfm_nb")
    try:
        yield Shell(shell, capsys)
    finally:
        stop_session_gateway()
        _quiet_panels()
        set_default_client(None)
        shell.run_line_magic("unload_ext", "agentfm_nb")


def _quiet_panels() -> None:
    """Let this test's gateway panels finish their background work now.

    Outside a kernel a widget's late refresh prints its text fallback; one that finishes after
    the test would print into the next test's cell output.
    """
    from agentfm_nb.magics.gateway import _panels
    from agentfm_nb.widgets._base import _pending

    for panel in list(_panels):
        panel._cancel_all()
        deadline = time.monotonic() + 10
        while panel._tasks and time.monotonic() < deadline:
            time.sleep(0.01)
    _pending.clear()


@pytest.fixture
def connected(ip: Shell, gateway: Any) -> Shell:
    ran = ip.run(f"%agentfm connect {gateway.url} --artifacts-dir {gateway.artifacts_dir}")
    assert ran.ok, ran.err
    return ip


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def dead_client(dead_url: str) -> AgentFMClient:
    client = AgentFMClient(dead_url, retries=0, timeout=2.0)
    set_default_client(client)
    return client
