"""A real JupyterLab and headless Debian Chromium (Playwright), one of each per test session.

Per the team's browser-testing notes: JupyterLab runs on a free loopback port with its config,
runtime, settings and workspace dirs in a temp folder; Chromium never reaches past loopback
(every other request is aborted); both are stopped by their own handles at teardown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._chromium import CHROMIUM as CHROMIUM
from tests._chromium import CHROMIUM_ARGS as CHROMIUM_ARGS

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "browser"
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost", "file://", "data:", "blob:", "about:")

# A developer's own gateway settings must not leak into the kernels JupyterLab starts.
_CLEAN = ("AGENTFM_API_KEY", "AGENTFM_API_KEYS", "AGENTFM_GATEWAY_URL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.path.exists(CHROMIUM):
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


# Module scope: Playwright's sync API keeps an event loop running in the main thread while it
# is open, which breaks every pytest-asyncio test run after it. "package" scope would not help:
# this folder has no __init__.py, so pytest treats it as session scope.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def block_remote(page: Any, blocked: list[str]) -> None:
    """Abort every request that would leave the machine (and remember it for assertions)."""

    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(LOCAL_PREFIXES):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", handle)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page whose non-local requests are aborted and listed in ``page.blocked``."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.blocked = []
    block_remote(page, page.blocked)
    try:
        yield page
    finally:
        context.close()


@dataclass
class Lab:
    url: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path
    app: str = "lab"  # or "notebook" (Notebook 7)

    def kernels(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/api/kernels", timeout=5).json())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(base: Path, app: str) -> Iterator[Lab]:
    """Run ``jupyter <app>`` (lab or notebook) isolated under ``base``; stop it by its pid."""
    root = base / "root"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "01_quickstart.ipynb", root)
    settings = base / "settings"
    notify = settings / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True)
    (notify / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {k: v for k, v in os.environ.items() if k not in _CLEAN}
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
    )
    port = _free_port()
    log = base / f"jupyter-{app}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter", app, "--no-browser", "--ip", "127.0.0.1",
                "--port", str(port), "--ServerApp.token=", "--ServerApp.password=",
                "--allow-root", f"--ServerApp.root_dir={root}",
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"jupyter {app} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Lab(url=url, root=root, proc=proc, log=log, app=app)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from _serve(tmp_path_factory.mktemp("jupyterlab"), "lab")


@pytest.fixture(scope="session")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A Notebook 7 server (same isolation as ``lab``); its UI is built from JupyterLab parts."""
    yield from _serve(tmp_path_factory.mktemp("notebook7"), "notebook")


def wait_kernel_idle(page: Any, lab: Lab, timeout: float = 60.0) -> None:
    """The page says idle AND the server sees a connected idle kernel (both, see notes).

    JupyterLab says it in its status bar; Notebook 7 has none, only the toolbar's execution
    indicator, which alone can say idle before the kernel is connected (hence the server check).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.app == "notebook":
            indicator = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
            bar_idle = page.locator(indicator).count() > 0
        else:
            status = page.locator(".jp-StatusBar-Widget").all_inner_texts()
            lines = [line.strip() for text in status for line in text.splitlines()]
            bar_idle = any(line.endswith("| Idle") for line in lines)
        kernels = lab.kernels()
        server_idle = any(
            k.get("execution_state") == "idle" and k.get("connections", 0) >= 1 for k in kernels
        )
        if bar_idle and server_idle:
            return
        page.wait_for_timeout(250)
    raise AssertionError("kernel never became idle")


def open_notebook(page: Any, lab: Lab, name: str, cells: int) -> None:
    path = f"notebooks/{name}" if lab.app == "notebook" else f"lab/tree/{name}?reset"
    page.goto(f"{lab.url}/{path}")
    page.wait_for_function(
        f"document.querySelectorAll('.jp-Notebook .jp-Cell').length >= {cells}", timeout=60_000
    )
    wait_kernel_idle(page, lab)


def run_all(page: Any) -> None:
    page.locator('.lm-MenuBar-item:has-text("Run")').first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()


def run_cell(page: Any, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")


def cell_output(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output")


def serve_marimo(root: Path, app: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``marimo run`` of ``app`` (source text) in ``root``; yields its URL, then stops it.

    The server gets its own process group: its kernels and the gateways they start go with it.
    """
    (root / "app.py").write_text(app)
    env = {**{k: v for k, v in os.environ.items() if k not in _CLEAN}, **(env or {})}
    port = _free_port()
    log = root / "marimo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--no-token",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"marimo did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
