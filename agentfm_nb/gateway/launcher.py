"""``LocalMeshGateway``: start a gateway process (the ``agentfm`` binary or ours) and own it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import warnings
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import httpx
import psutil

from agentfm_nb.errors import AgentFMError, GatewayConnectionError
from agentfm_nb.gateway._process import free_port, kill_tree, pdeathsig_preexec
from agentfm_nb.mesh.artifacts import scratch_path

Backend = Literal["auto", "agentfm", "embedded"]

_HOST = "127.0.0.1"
_PORT_RETRIES = 3  # port=0 picks a port before the child binds it; another process may win
_ADDR_IN_USE = ("address already in use", "errno 98", "errno 48", "bind: address")


class GatewayAlreadyRunningError(AgentFMError, RuntimeError):
    """``start()`` was called on a gateway that is already running (the SDK's ``RuntimeError``)."""


class GatewayFileNotFoundError(GatewayConnectionError, FileNotFoundError):
    """The ``agentfm`` binary or the ``swarm_key`` file is missing, found before anything runs.

    A ``FileNotFoundError`` as in the SDK, and a ``GatewayConnectionError`` (``code`` says which
    file) for code that catches this package's errors.
    """


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    port: int
    started_at: float
    log: IO[bytes]
    guard_write_fd: int | None = None
    watchdog: subprocess.Popen[bytes] | None = None
    ps: psutil.Process | None = field(default=None)


class LocalMeshGateway:
    """A gateway subprocess for tests and notebooks, torn down on ``stop()`` or context exit.

    ``backend="auto"`` runs the ``agentfm`` binary when it is on PATH (or ``binary_path`` is
    given), else the embedded gateway (``python -m agentfm_nb.mesh``). ``api_key`` is used by the
    readiness probe and, unless the environment already sets ``AGENTFM_API_KEYS``, becomes the
    gateway's only accepted key. ``env`` is laid over ``os.environ`` (a ``None`` value removes a
    variable). The gateway never outlives the Python process that started it.
    """

    def __init__(
        self,
        *,
        binary_path: str | Path | None = None,
        port: int = 8080,
        swarm_key: str | Path | None = None,
        bootstrap: str | None = None,
        debug: bool = False,
        log_file: str | Path | None = None,
        startup_timeout: float = 30.0,
        api_key: str | None = None,
        backend: Backend = "auto",
        config: str | Path | None = None,
        artifacts_dir: str | Path | None = None,
        env: Mapping[str, str | None] | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        if backend not in ("auto", "agentfm", "embedded"):
            raise ValueError(f"backend must be 'auto', 'agentfm' or 'embedded', not {backend!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        self.binary_path = binary_path
        self.port = port
        self.swarm_key = Path(swarm_key) if swarm_key is not None else None
        self.bootstrap = bootstrap
        self.debug = debug
        self.log_file = Path(log_file) if log_file is not None else None
        self.startup_timeout = startup_timeout
        self._api_key = api_key
        self.requested_backend: Backend = backend
        self.config = Path(config) if config is not None else None
        self._artifacts_dir = Path(artifacts_dir) if artifacts_dir is not None else None
        self.env = dict(env or {})
        self.stop_timeout = stop_timeout
        self._run: _Running | None = None
        self._log_path: Path | None = None
        self._temp_logs: list[Path] = []
        self._finalizer = weakref.finalize(self, _cleanup, [None], self._temp_logs)
        self.backend: Literal["agentfm", "embedded"] = self._resolve_backend()

    # ----------------------------------------------------------------- properties

    @property
    def url(self) -> str:
        port = self._run.port if self._run else self.port
        return f"http://{_HOST}:{port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The gateway's ``Popen``; ``None`` before ``start()`` and after ``stop()``."""
        return self._run.proc if self._run else None

    @property
    def api_key(self) -> str | None:
        """The key the readiness probe sends (and the gateway's own key, see the class doc)."""
        return self._api_key

    @property
    def pid(self) -> int | None:
        return self._run.proc.pid if self._run else None

    @property
    def running(self) -> bool:
        return self._run is not None and self._run.proc.poll() is None

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._run.started_at if self.running and self._run else 0.0

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited on its own (``None`` while it runs)."""
        return self._run.proc.poll() if self._run else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit (after an outside signal, say) and return its code."""
        if self._run is None:
            raise AgentFMError("gateway is not started", code="not_started")
        return self._run.proc.wait(timeout)

    @property
    def artifacts_dir(self) -> Path:
        """Where ``<task_id>.zip`` files land (the gateway's ``./agentfm_artifacts`` default)."""
        if self._artifacts_dir is not None:
            return self._artifacts_dir.resolve()
        return (Path.cwd() / "agentfm_artifacts").resolve()

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def log_tail(self, n: int = 50) -> str:
        """The last ``n`` lines of the gateway's output (the API key is masked)."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        with self._log_path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
        text = "\n".join(data.splitlines()[-n:]) if n > 0 else ""
        return self._redact(text)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> LocalMeshGateway:
        if self.running:
            raise GatewayAlreadyRunningError(
                f"LocalMeshGateway.start() called twice: already running at {self.url} "
                f"(pid {self.pid}); call stop() first",
                code="already_running",
            )
        self._check_swarm_key()
        if self._run is not None:  # exited on its own since the last start: tidy up first
            self.stop()
        attempts = _PORT_RETRIES if self.port == 0 else 1
        for attempt in range(attempts):
            port = self.port or free_port(_HOST)
            try:
                self._launch(port)
                self._wait_ready()
                return self
            except GatewayConnectionError as exc:
                tail = self.log_tail(200).lower()
                self.stop()
                retry = attempt + 1 < attempts and any(s in tail for s in _ADDR_IN_USE)
                if not retry:
                    raise exc from None
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; idempotent; leaves no process behind."""
        run, self._run = self._run, None
        if run is None:
            return
        _terminate(run, self.stop_timeout)
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, [None], self._temp_logs)

    def __enter__(self) -> LocalMeshGateway:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running, pid={self.pid}" if self.running else "stopped"
        auth = ", auth=on" if self._api_key else ""
        return f"LocalMeshGateway(backend={self.backend!r}, url={self.url!r}, {state}{auth})"

    # ----------------------------------------------------------------- internals

    def _resolve_backend(self) -> Literal["agentfm", "embedded"]:
        if self.requested_backend == "embedded":
            return "embedded"
        if self.requested_backend == "agentfm" or self.binary_path is not None:
            return "agentfm"
        return "agentfm" if shutil.which("agentfm") else "embedded"

    def _check_swarm_key(self) -> None:
        if self.swarm_key is not None and not Path(self.swarm_key).expanduser().is_file():
            raise GatewayFileNotFoundError(
                f"swarm key not found: {self.swarm_key}", code="swarm_key_not_found"
            )

    def argv(self, port: int) -> list[str]:
        """The command line for ``port`` (public so users can see what will run)."""
        if self.backend == "agentfm":
            if self.config is not None:
                raise ValueError("config= describes embedded workers; the agentfm binary has none")
            binary = str(self.binary_path) if self.binary_path is not None else "agentfm"
            resolved = shutil.which(binary)
            if resolved is None:
                raise GatewayFileNotFoundError(
                    f"agentfm binary not found: {binary!r} (install it, put it on PATH, "
                    "or use backend='embedded')",
                    code="binary_not_found",
                )
            cmd = [resolved, "-mode", "api", "-apiport", str(port)]
            if self.swarm_key is not None:
                cmd += ["-swarmkey", str(self.swarm_key)]
            if self.bootstrap:
                cmd += ["-bootstrap", self.bootstrap]
            return cmd
        if self.swarm_key is not None or self.bootstrap:
            warnings.warn(
                "swarm_key/bootstrap only apply to the agentfm binary; the embedded gateway "
                "ignores them",
                stacklevel=3,
            )
        cmd = [sys.executable, "-m", "agentfm_nb.mesh", "--host", _HOST, "--port", str(port)]
        cmd += ["--artifacts-dir", str(self.artifacts_dir)]
        if self.config is not None:
            cmd += ["--config", str(self.config.resolve())]
        if self.debug:
            cmd += ["--log-level", "debug"]
        return cmd

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name, value in self.env.items():  # None unsets an inherited variable
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        if self._api_key and not env.get("AGENTFM_API_KEYS"):
            env["AGENTFM_API_KEYS"] = self._api_key
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _cwd(self) -> str | None:
        # The real binary always writes ./agentfm_artifacts relative to its working directory.
        if self.backend != "agentfm" or self._artifacts_dir is None:
            return None
        if self._artifacts_dir.name != "agentfm_artifacts":
            raise ValueError(
                "with the agentfm binary, artifacts_dir must end in 'agentfm_artifacts' "
                "(the binary writes ./agentfm_artifacts under its working directory)"
            )
        self._artifacts_dir.mkdir(parents=True, exist_ok=True)
        return str(self._artifacts_dir.resolve().parent)

    def _open_log(self) -> IO[bytes]:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_path = self.log_file
            return self.log_file.open("ab")
        # in the one swept scratch folder: a killed kernel's log goes with the next launch
        self._log_path = scratch_path("gateway", ".log")
        self._temp_logs.append(self._log_path)
        return self._log_path.open("wb")

    def _launch(self, port: int) -> None:
        cmd = self.argv(port)
        cwd = self._cwd()
        if self.backend == "embedded":
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        log = self._open_log()
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._child_env(),
                cwd=cwd,
                start_new_session=True,  # Ctrl-C in the notebook's terminal is not for us
                preexec_fn=pdeathsig_preexec(),  # arms prctl only
            )
        except OSError as exc:
            log.close()
            raise GatewayConnectionError(
                f"could not start {cmd[0]}: {exc}", code="spawn_failed"
            ) from exc
        run = _Running(proc=proc, port=port, started_at=time.monotonic(), log=log)
        self._run = run
        self._finalizer.detach()
        holder: list[_Running | None] = [run]
        self._finalizer = weakref.finalize(self, _cleanup, holder, self._temp_logs)
        try:
            run.ps = psutil.Process(proc.pid)
            _start_watchdog(run, self.stop_timeout)
        except (psutil.NoSuchProcess, OSError):
            pass  # exited already: _wait_ready reports it with the log

    def _wait_ready(self) -> None:
        run = self._run
        assert run is not None
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.02
        last_error = "no answer yet"
        with httpx.Client(timeout=2.0, headers=headers, trust_env=False) as http:
            while True:
                code = run.proc.poll()
                if code is not None:
                    raise GatewayConnectionError(
                        f"gateway exited early with code {code}, before it became ready "
                        f"({self.backend}: {self._log_path})\n--- log tail ---\n"
                        f"{self.log_tail(40)}",
                        code="gateway_exited",
                    )
                try:
                    resp = http.get(f"{self.url}/health")
                    if resp.status_code == 200:
                        return
                    last_error = f"/health answered HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    last_error = type(exc).__name__
                if time.monotonic() >= deadline:
                    raise GatewayConnectionError(
                        f"gateway did not become ready within {self.startup_timeout:g}s at "
                        f"{self.url} ({last_error})\n--- log tail ---\n{self.log_tail(40)}",
                        code="startup_timeout",
                    )
                time.sleep(delay)
                delay = min(delay * 1.5, 0.25)

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text


def _start_watchdog(run: _Running, grace: float) -> None:
    assert run.ps is not None
    read_fd, write_fd = os.pipe()  # both non-inheritable; only read_fd is passed on
    try:
        run.watchdog = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "agentfm_nb.gateway._watchdog",
                "--fd",
                str(read_fd),
                "--pid",
                str(run.proc.pid),
                "--create-time",
                repr(run.ps.create_time()),
                "--grace",
                str(grace),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(read_fd,),
            start_new_session=True,
        )
    except OSError:
        os.close(write_fd)
        raise
    finally:
        os.close(read_fd)
    run.guard_write_fd = write_fd


def _terminate(run: _Running, grace: float) -> None:
    proc = run.proc

    def waiter(timeout: float) -> bool:
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    if proc.poll() is None and run.ps is not None:
        kill_tree(run.ps, grace=grace, waiter=waiter)
    elif proc.poll() is None:
        proc.kill()
        proc.wait(5.0)
    if run.guard_write_fd is not None:
        with contextlib.suppress(OSError):
            os.close(run.guard_write_fd)
        run.guard_write_fd = None
    if run.watchdog is not None:
        try:
            run.watchdog.wait(3.0)  # it sees the gateway gone and exits by itself
        except subprocess.TimeoutExpired:
            run.watchdog.kill()
            run.watchdog.wait()
    with contextlib.suppress(OSError):
        run.log.close()


def _cleanup(holder: list[_Running | None], temp_logs: list[Path]) -> None:
    """Finalizer (garbage collection or interpreter exit): stop the gateway, drop temp logs."""
    run = holder[0]
    if run is not None:
        holder[0] = None
        with contextlib.suppress(Exception):
            _terminate(run, grace=3.0)
    for path in temp_logs:
        with contextlib.suppress(OSError):
            path.unlink()
    temp_logs.clear()
