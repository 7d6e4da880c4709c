"""Running the gateway: the mesh, the app and a programmatic uvicorn server in one process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from agentfm_nb.errors import AgentFMError
from agentfm_nb.mesh.app import begin_shutdown, create_app
from agentfm_nb.mesh.auth import parse_api_keys

log = logging.getLogger("agentfm_nb.mesh.server")

GRACEFUL_SHUTDOWN_S = 5
# Generation-0 threshold of a gateway process (CPython's default: 700). Every request allocates
# a few dozen containers and frees nearly all of them by reference counting; with hundreds of
# streams open, the default collects (and promotes, and rescans) their live objects every few
# requests: a fifth of the CPU of 500 concurrent zero-work streams.
GC_GEN0_THRESHOLD = 10_000


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    config: Path | None = None
    artifacts_dir: Path = Path("agentfm_artifacts")
    state_dir: Path | None = None
    log_level: str = "warning"


def is_loopback(host: str) -> bool:
    """``auth.go:isLoopbackBind``: "", localhost, 127.0.0.1, ::1 or any loopback address."""
    if host.strip().lower() in ("", "localhost", "127.0.0.1", "::1"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _allow_unauth_public() -> bool:
    return os.environ.get("AGENTFM_ALLOW_UNAUTH_PUBLIC") == "1"


def check_bind(host: str, keys: list[str]) -> None:
    """Refuse a non-loopback bind without keys unless explicitly allowed."""
    if keys or is_loopback(host) or _allow_unauth_public():
        return
    raise AgentFMError(
        f"refusing to listen on {host} without authentication: set AGENTFM_API_KEYS "
        "(comma-separated, each at least 16 characters) or AGENTFM_ALLOW_UNAUTH_PUBLIC=1",
        code="unauth_public_bind",
    )


class GatewayServer(uvicorn.Server):
    """uvicorn with our own signal handling: end the streams at once, exit 0, never re-raise."""

    def __init__(
        self, config: uvicorn.Config, app: Starlette, *, handle_signals: bool = True
    ) -> None:
        super().__init__(config)
        self.app = app
        self.handle_signals = handle_signals
        self.bound: tuple[str, int] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if not self.handle_signals:
            yield
            return
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_exit)
                installed.append(sig)
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def request_exit(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
        begin_shutdown(self.app)

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)  # type: ignore[arg-type]
        if self.should_exit or not self.servers:
            return
        name = self.servers[0].sockets[0].getsockname()
        host = self.config.host
        self.bound = (host, int(name[1]))
        if self.handle_signals:
            shown = f"[{host}]" if ":" in host else host
            message = f"agentfm-nb mesh listening on http://{shown}:{name[1]}"
            print(message, file=sys.stderr, flush=True)


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def tune_gc() -> None:
    """Collector settings for a process that is the gateway (never done to a host process).

    What exists once the mesh and app are built (modules, workers, the app) lives as long as
    the process: frozen, the collector stops rescanning it; and a larger first generation
    collects per-request garbage cycles less often (see ``GC_GEN0_THRESHOLD``).
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


async def serve(options: ServeOptions, *, own_process: bool = False) -> int:
    """Start the mesh and serve until SIGTERM/SIGINT; returns the exit code.

    ``own_process``: this process exists to run the gateway (the CLI): tune its collector.
    """
    from agentfm_nb.mesh.config import demo_config, load_config
    from agentfm_nb.mesh.runtime import Mesh

    keys = parse_api_keys(os.environ.get("AGENTFM_API_KEYS"))
    check_bind(options.host, keys)
    config = load_config(options.config) if options.config else demo_config()
    if options.state_dir is not None:
        config = replace(config, state_dir=options.state_dir)
    artifacts_dir = options.artifacts_dir.expanduser().resolve()
    artifacts_dir.mkdir(parents=True, exist_ok=True)

    mesh = Mesh(config, artifacts_dir=artifacts_dir)
    await mesh.start()
    try:
        app = create_app(mesh, api_keys=keys, host_guard=not keys and is_loopback(options.host))
        level = options.log_level.lower()
        uv_config = uvicorn.Config(
            app,
            host=options.host,
            port=options.port,
            http=_http_impl(),
            loop="asyncio",
            lifespan="on",
            log_level=level,
            access_log=level in ("debug", "trace"),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            server_header=False,
        )
        server = GatewayServer(uv_config, app)
        if own_process:
            tune_gc()
        await server.serve()
        if not server.started:
            print(
                f"agentfm-nb mesh: could not listen on {options.host}:{options.port}",
                file=sys.stderr,
            )
            return 1
    finally:
        await mesh.aclose()
    return 0


def run(options: ServeOptions) -> int:
    return asyncio.run(serve(options, own_process=True))


__all__ = ["GatewayServer", "ServeOptions", "check_bind", "is_loopback", "run", "serve"]
