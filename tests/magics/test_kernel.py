"""The magics in a real Jupyter kernel: failures fail the cell (headless runs stop there) in one
line, and an interrupted ``%%agentfm scatter --wait -o VAR`` still hands over finished rows."""

from __future__ import annotations

import json
import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from agentfm_nb.client import AgentFMClient

pytestmark = pytest.mark.slow

# A developer's own settings must not leak into the kernels started here.
_KERNEL_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("AGENTFM_API_KEY", "AGENTFM_API_KEYS", "AGENTFM_GATEWAY_URL", "AGENT_PRIVATE_KEY")
}


class Kernel:
    """One kernel and a blocking client; ``run`` executes a cell and gathers what it showed."""

    def __init__(self, cwd: Path) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=_KERNEL_ENV, cwd=str(cwd))
        self.kc: BlockingKernelClient = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def send(self, code: str) -> str:
        return str(self.kc.execute(code, store_history=False))

    def collect(self, msg_id: str, timeout: float = 120) -> tuple[dict[str, Any], list[Any]]:
        """The execute reply's content and the iopub outputs of ``msg_id``."""
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        outputs: list[Any] = []
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                break
            if kind in ("stream", "error", "execute_result", "display_data"):
                outputs.append((kind, msg["content"]))
        return dict(reply["content"]), outputs

    def run(self, code: str, timeout: float = 120) -> tuple[dict[str, Any], list[Any]]:
        return self.collect(self.send(code), timeout)

    def stdout(self, code: str) -> str:
        reply, outputs = self.run(code)
        assert reply["status"] == "ok", (reply, outputs)
        return "".join(c["text"] for k, c in outputs if k == "stream" and c["name"] == "stdout")

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    k = Kernel(tmp_path_factory.mktemp("kernel-cwd"))
    try:
        reply, outputs = k.run("%load_ext agentfm_nb")
        assert reply["status"] == "ok", outputs
        yield k
    finally:
        k.close()


def one_line_failure(reply: dict[str, Any], outputs: list[Any]) -> str:
    """The cell failed (so nbclient/papermill/CI stop) and showed exactly one line."""
    assert reply["status"] == "error", (reply, outputs)
    assert reply["ename"] == "UsageError", reply
    assert "error" not in [k for k, _ in outputs], outputs  # no traceback output
    # The kernel may flush one print in pieces (the text, then its "\n"); front-ends and
    # saved notebooks join consecutive stream messages, so the joined text is what users see.
    text = "".join(c["text"] for k, c in outputs if k == "stream" and c["name"] == "stderr")
    text = text.strip()
    assert text and "\n" not in text, text
    return text


def test_a_headless_run_stops_at_a_failing_ogpu_cell(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext agentfm_nb"),
        nbformat.v4.new_code_cell("%ogpu status"),
        nbformat.v4.new_code_cell("print('never reached')"),
    ]
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        coalesce_streams=True,  # one print may arrive in two stream messages
    )
    with pytest.raises(CellExecutionError) as err:
        client.execute(env=_KERNEL_ENV)
    assert err.value.ename == "UsageError"
    assert "%ogpu status: not connected" in err.value.evalue
    (shown,) = nb.cells[1].outputs
    assert shown["output_type"] == "stream" and shown["name"] == "stderr"
    assert shown["text"].strip().count("\n") == 0
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None


@pytest.mark.parametrize(
    "source",
    [
        "%ogpu status",
        "%ogpu attempt 0x1 0x2 lots",
        "%ogpu connect --rpc http://[::1 --chain local --no-prompt",
        "%agentfm connect http://[::1",
        "%agentfm connect sk-proj-Zq8rT1uVw2xYz3aBc4dEf5gH",
        "x = 'text'\n%agentfm chat --model Poet hi {x:%}",
        "%%agentfm scatter --concurrency 0\na",
    ],
)
def test_every_failure_fails_the_cell_in_one_line(kernel: Kernel, source: str) -> None:
    text = one_line_failure(*kernel.run(source))
    assert text.startswith(("UsageError: %ogpu", "UsageError: %agentfm")), text
    assert "sk-proj-Zq8rT1uVw2xYz3aBc4dEf5gH" not in text


SLOW_AGENT = """
import os, pathlib, sys, time
prompt = os.environ.get("AGENTFM_PROMPT") or sys.stdin.read()
if prompt.startswith("long"):
    pathlib.Path({marker!r}).touch()  # the test interrupts once a long task really runs
    for i in range(1200):
        print("tick", i, flush=True)
        time.sleep(0.05)
else:
    print("answer to", prompt, flush=True)
"""


def test_interrupted_scatter_leaves_cancelled_rows(
    kernel: Kernel, start_gateway: Any, write_agent: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "long-task-started"
    script = write_agent(SLOW_AGENT.format(marker=str(marker)))
    gw = start_gateway(script.worker("Slow", engine="slow", max_tasks=1))
    assert kernel.stdout(f"%agentfm connect {gw.url} --artifacts-dir none").startswith("Connected")
    prompts = ["short 1", "short 2", "long 1", "long 2", "long 3", "long 4"]
    msg_id = kernel.send("%%agentfm scatter --wait -o rows --concurrency 1\n" + "\n".join(prompts))
    _wait_for(marker)
    kernel.km.interrupt_kernel()
    text = one_line_failure(*kernel.collect(msg_id))
    assert "interrupted; `rows` holds the rows" in text, text

    out = kernel.stdout("import json; print(json.dumps([list(rows.prompt), list(rows.status)]))")
    got_prompts, got_status = json.loads(out)
    assert got_prompts == prompts
    assert set(got_status) <= {"success", "cancelled"}, got_status
    long_status = [s for p, s in zip(got_prompts, got_status, strict=True) if p.startswith("long")]
    assert long_status == ["cancelled"] * 4, got_status
    _wait_slot_free(gw.url)  # the running agent was stopped

    # A chat keeps what streamed so far, marked cancelled.
    marker.unlink()
    msg_id = kernel.send("%%agentfm chat --peer 12D3 --wait -o answer\nlong chat")
    _wait_for(marker)
    kernel.km.interrupt_kernel()
    text = one_line_failure(*kernel.collect(msg_id))
    assert text.endswith("%agentfm chat: interrupted; `answer` holds the reply so far"), text
    status, start = json.loads(kernel.stdout("print(json.dumps([answer.status, answer.text[:4]]))"))
    assert status == "cancelled" and start in ("", "tick"), (status, start)
    _wait_slot_free(gw.url)

    # Any other subcommand interrupted mid-call: one line too (here tasks.run behind run -o).
    marker.unlink()
    msg_id = kernel.send("%agentfm run --peer 12D3 -o result long again")
    _wait_for(marker)
    kernel.km.interrupt_kernel()
    assert one_line_failure(*kernel.collect(msg_id)).endswith("%agentfm run: interrupted")
    _wait_slot_free(gw.url)


def _wait_for(marker: Path) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the long task never started"
        time.sleep(0.05)


def _wait_slot_free(url: str) -> None:
    """The interrupted agent was stopped: the worker's only slot is free again."""
    with AgentFMClient(url, api_key=None) as c:
        deadline = time.monotonic() + 20
        while c.workers.list()[0].current_tasks:
            assert time.monotonic() < deadline, "the interrupted agent kept its slot"
            time.sleep(0.1)
