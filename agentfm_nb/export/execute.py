"""Run a notebook top to bottom in a fresh kernel (nbclient), keeping its widget state."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentfm_nb.errors import AgentFMError


class NotebookRunError(AgentFMError):
    """A cell failed; ``.notebook`` holds what ran (outputs up to and including the failure)."""

    def __init__(self, message: str, *, notebook: Any, cell_index: int | None = None) -> None:
        super().__init__(message, code="cell_failed")
        self.notebook = notebook
        self.cell_index = cell_index


@dataclass
class ExecutedNotebook:
    notebook: Any
    probe_output: str = ""  # stdout of ``probe`` run in the same kernel after the last cell
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def execute_notebook(
    src: str | Path | Any,
    *,
    cwd: str | Path,
    timeout: float = 180.0,
    env: Mapping[str, str | None] | None = None,
    probe: str | None = None,
    kernel_name: str = "python3",
) -> ExecutedNotebook:
    """Execute every cell with ``store_widget_state=True``; raise ``NotebookRunError`` on failure.

    ``probe`` is extra code run in the same kernel after the last cell (not saved in the
    notebook); its stdout is returned, which lets callers read results without re-running.
    ``env`` adds to (or, with ``None`` values, removes from) the kernel's environment.
    """
    coro = _execute(
        src, cwd=Path(cwd), timeout=timeout, env=env, probe=probe, kernel_name=kernel_name
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside a running loop (a notebook, Playwright's sync API): use a thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _execute(
    src: str | Path | Any,
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str | None] | None,
    probe: str | None,
    kernel_name: str,
) -> ExecutedNotebook:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    loop = asyncio.get_running_loop()
    started = loop.time()
    nb = nbformat.read(src, as_version=4) if isinstance(src, (str, Path)) else src  # type: ignore[no-untyped-call]
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        store_widget_state=True,
        coalesce_streams=True,  # a saved notebook shows one block per stream, as Jupyter does
        resources={"metadata": {"path": str(cwd)}},
    )
    kernel_env = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            kernel_env.pop(name, None)
        else:
            kernel_env[name] = value
    # Silences ipykernel's debugger warning about frozen modules on every kernel start.
    kernel_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    output = ""
    # The kernel process's own stderr holds only start-up chatter (cell stderr comes over
    # iopub), so keep it off the user's terminal.
    async with client.async_setup_kernel(env=kernel_env, stderr=subprocess.DEVNULL):
        assert client.kc is not None
        msg_id = client.kc.kernel_info()  # sends at once; the reply is awaited below
        info = await client.async_wait_for_reply(msg_id)
        if info is not None and "language_info" in info["content"]:
            nb.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            try:
                await client.async_execute_cell(
                    cell, index, execution_count=client.code_cells_executed + 1
                )
            except CellExecutionError as exc:
                client.set_widgets_metadata()
                raise NotebookRunError(
                    f"cell {index + 1} failed: {_first_line(exc)}", notebook=nb, cell_index=index
                ) from None
        client.set_widgets_metadata()
        if probe is not None:
            output = await _run_probe(client.kc, probe, timeout)
    return ExecutedNotebook(notebook=nb, probe_output=output, seconds=loop.time() - started)


async def _run_probe(kc: Any, code: str, timeout: float) -> str:
    chunks: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream" and msg["content"].get("name") == "stdout":
            chunks.append(msg["content"]["text"])

    await kc.execute_interactive(code, output_hook=hook, timeout=timeout, store_history=False)
    return "".join(chunks)


def _first_line(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename:
        import re

        clean = re.sub(r"\x1b\[[0-9;]*m", "", str(evalue or "")).strip().splitlines()
        return f"{ename}: {clean[0] if clean else ''}".rstrip(": ")
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
