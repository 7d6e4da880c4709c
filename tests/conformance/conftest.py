"""One real gateway process for the conformance suite, with small agents of our own.

Each test pins one row of ``gateway-conformance.md`` to the real gateway's behaviour (taken from
the Go source named in its docstring). The gateway is ``python -m agentfm_nb.mesh`` on a free
loopback port, started once per session through ``LocalMeshGateway``.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentfm_nb.gateway import LocalMeshGateway

WEBHOOK_SECRET = "conformance-webhook-secret"
CLEAN_ENV: dict[str, str | None] = {
    "AGENTFM_API_KEYS": None,
    "AGENTFM_ALLOW_UNAUTH_PUBLIC": None,
    "AGENTFM_ALLOW_FILE_ORIGIN": None,
    "AGENTFM_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "AGENTFM_WEBHOOK_ALLOW_PRIVATE": "1",
    "AGENTFM_NB_ASYNC_ARTIFACT_WAIT_S": None,  # the real 10 s
}

# name -> agent source (stdin carries the prompt); every one is a few lines of Python
AGENTS: dict[str, str] = {
    "Lines": 'import sys\nsys.stdin.read()\nsys.stdout.write("hello\\nworld\\n")\n',
    "Partial": 'import sys\nsys.stdin.read()\nsys.stdout.write("partial")\n',
    "Fail": 'import sys\nsys.stdin.read()\nsys.stderr.write("boom\\n")\nsys.exit(3)\n',
    # writes "a", then waits for the file named by the prompt, then "b\n"
    "Slow": textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        gate = Path(sys.stdin.read().strip())
        sys.stdout.write("a"); sys.stdout.flush()
        for _ in range(3000):
            if gate.exists():
                break
            time.sleep(0.01)
        sys.stdout.write("b\\n")
        """
    ),
    "Mixed": textwrap.dedent(
        """
        import sys, time
        sys.stdin.read()
        out, err = sys.stdout, sys.stderr
        for stream, text in ((out, "out1\\n"), (err, "err1\\n"), (out, "out2\\n")):
            stream.write(text); stream.flush(); time.sleep(0.05)
        """
    ),
    "Marker": 'import sys\nsys.stdin.read()\nprint("[AGENTFM: FILES_INCOMING]")\nprint("text")\n',
    "Maker": textwrap.dedent(
        """
        import os, sys
        sys.stdin.read()
        with open(os.path.join(os.environ["AGENTFM_OUTPUT_DIR"], "out.txt"), "w") as fh:
            fh.write("made")
        print("made")
        """
    ),
    "Long": 'import sys\nsys.stdin.read()\nsys.stdout.write("x" * (9 << 20) + "\\n")\n',
}


@dataclass
class Conformance:
    """The running gateway and what a test needs to address its workers."""

    gw: LocalMeshGateway
    root: Path
    peers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gw.url

    def gate(self) -> Path:
        """A fresh gate file path (the Slow/Gate agents wait for it to exist)."""
        return self.root / f"gate-{uuid.uuid4().hex}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _config(root: Path) -> str:
    agents = root / "agents"
    agents.mkdir()
    tables: list[str] = []

    def table(name: str, **fields: Any) -> None:
        fields.setdefault("engine", "conf")
        lines = ["[[workers]]", f"name = {_toml(name)}"]
        lines += [f"{k} = {_toml(v)}" for k, v in fields.items()]
        tables.append("\n".join(lines) + "\n")

    for name, source in AGENTS.items():
        path = agents / f"{name.lower()}.py"
        path.write_text(source)
        argv = [sys.executable, "-u", str(path)]
        table(name, kind="command", argv=argv, max_tasks=4, description=f"{name} agent")
    gate_source = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        gate = Path(sys.stdin.read().strip())
        print("started", flush=True)
        for _ in range(6000):
            if gate.exists():
                break
            time.sleep(0.01)
        print("released")
        """
    )
    (agents / "gate.py").write_text(gate_source)
    gate_argv = [sys.executable, "-u", str(agents / "gate.py")]
    table("Gate", kind="command", argv=gate_argv, max_tasks=1, engine="gated", author="")
    table("Echo", kind="python", callable="agentfm_nb.mesh.demo:echo", max_tasks=8, engine="echo")
    table("Ghost", kind="python", callable="agentfm_nb.mesh.demo:echo", online=False)
    return "".join(tables)


@pytest.fixture(scope="session")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conformance]:
    root = tmp_path_factory.mktemp("conformance")
    config = root / "mesh.toml"
    config.write_text(_config(root))
    gw = LocalMeshGateway(
        port=0,
        backend="embedded",
        config=config,
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env=CLEAN_ENV,
    )
    gw.start()
    try:
        body = httpx.get(f"{gw.url}/api/workers?include_offline=true").json()
        peers = {agent["name"]: agent["peer_id"] for agent in body["agents"]}
        yield Conformance(gw, root, peers)
    finally:
        gw.stop()


@pytest.fixture
def client(conf: Conformance) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=conf.url, timeout=60) as c:
        yield c


def start_demo(root: Path, api_key: str | None = None, **env: str | None) -> LocalMeshGateway:
    """A demo-mesh gateway with ``env`` over the suite's clean environment (stop it yourself)."""
    gw = LocalMeshGateway(
        port=0,
        backend="embedded",
        api_key=api_key,
        artifacts_dir=root / "artifacts",
        log_file=root / "gateway.log",
        env={**CLEAN_ENV, **env},
    )
    return gw.start()


def start_keyed(root: Path, keys: list[str], **env: str) -> LocalMeshGateway:
    """A demo-mesh gateway with ``AGENTFM_API_KEYS`` set (stop it yourself)."""
    return start_demo(root, keys[0], AGENTFM_API_KEYS=",".join(keys), **env)


class Receiver:
    """A loopback webhook receiver recording each POST (body, headers, arrival time)."""

    def __init__(self) -> None:
        self.hits: list[tuple[bytes, dict[str, str], float]] = []
        self.event = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(size)
                with outer.event:
                    outer.hits.append(
                        (body, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                    )
                    outer.event.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float) -> list[tuple[bytes, dict[str, str], float]]:
        deadline = time.monotonic() + timeout
        with self.event:
            while len(self.hits) < count and time.monotonic() < deadline:
                self.event.wait(deadline - time.monotonic())
            return list(self.hits)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def metric(text: str, sample: str) -> float:
    """The value of one exposition line ``sample`` (e.g. ``agentfm_tasks_total{status="ok"}``)."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {sample} in scrape")
