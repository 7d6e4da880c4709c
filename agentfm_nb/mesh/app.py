"""``create_app``: the embedded gateway as a Starlette app around one :class:`Mesh`."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from agentfm_nb import __version__
from agentfm_nb.mesh.auth import FailedAttemptThrottle, KeyRing, parse_api_keys
from agentfm_nb.mesh.front import GatewayFront
from agentfm_nb.mesh.metrics import GatewayMetrics
from agentfm_nb.mesh.peerid import new_identity
from agentfm_nb.mesh.routes import api, events, info, openai, peers
from agentfm_nb.mesh.routes.common import GatewayState, error_response, text_error
from agentfm_nb.mesh.routes.execute import ExecuteEndpoint
from agentfm_nb.mesh.webhooks import WebhookSender

if TYPE_CHECKING:
    from agentfm_nb.mesh.runtime import Mesh

_UNSET: list[str] = []


def _env_flag(name: str) -> bool:
    # the real gateway's opt-ins are exactly "1"
    return os.environ.get(name) == "1"


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value >= 0 else default


async def _not_found(request: Request, exc: Exception) -> Response:
    return text_error(404, "404 page not found")


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal gateway error", "internal_error")


def _boss_identity(mesh: Mesh) -> str:
    seed = getattr(getattr(mesh, "config", None), "seed", None)
    return new_identity(f"agentfm-nb/boss/{seed}".encode() if seed else None).peer_id


def create_app(
    mesh: Mesh,
    *,
    api_keys: Sequence[str] | None = _UNSET,
    webhook_secret: str | None = None,
    webhook_allow_private: bool | None = None,
    async_cap: int = 256,
    heartbeat_s: float = 15.0,
    api_body_cap: int = 1 << 20,
    openai_body_cap: int = 1 << 20,
    auth_fail_burst: float = 30.0,
    auth_fail_refill_per_s: float = 0.5,
    async_artifact_wait_s: float | None = None,
    host_guard: bool | None = None,
    manage_mesh: bool = False,
) -> Starlette:
    """Build the gateway app.

    ``api_keys`` defaults to ``AGENTFM_API_KEYS`` (pass ``None`` or ``[]`` to turn auth off);
    the webhook settings default to ``AGENTFM_WEBHOOK_SECRET`` / ``AGENTFM_WEBHOOK_ALLOW_PRIVATE``.
    ``async_artifact_wait_s`` (how long an async task waits for its zip before the webhook)
    defaults to ``AGENTFM_NB_ASYNC_ARTIFACT_WAIT_S`` or the real gateway's 10 s.
    ``host_guard`` (refuse a ``Host`` that is not a loopback name) defaults to on when no key is
    configured; the server turns it off for a deliberately public keyless bind.
    With ``manage_mesh`` the app's lifespan starts and closes the mesh.
    """
    if api_keys is _UNSET:
        keys = parse_api_keys(os.environ.get("AGENTFM_API_KEYS"))
    else:
        keys = parse_api_keys(",".join(api_keys or []))
    if webhook_secret is None:
        webhook_secret = os.environ.get("AGENTFM_WEBHOOK_SECRET") or None
    if webhook_allow_private is None:
        webhook_allow_private = _env_flag("AGENTFM_WEBHOOK_ALLOW_PRIVATE")

    if async_artifact_wait_s is None:
        async_artifact_wait_s = _env_seconds("AGENTFM_NB_ASYNC_ARTIFACT_WAIT_S", 10.0)
    if host_guard is None:
        host_guard = not keys

    metrics = GatewayMetrics(workers_online=lambda: float(mesh.online_count))
    state = GatewayState(
        mesh=mesh,
        metrics=metrics,
        webhooks=WebhookSender(secret=webhook_secret, allow_private=webhook_allow_private),
        version=__version__,
        heartbeat_s=heartbeat_s,
        async_cap=async_cap,
        api_body_cap=api_body_cap,
        openai_body_cap=openai_body_cap,
        async_artifact_wait_s=async_artifact_wait_s,
        boss_peer_id=_boss_identity(mesh),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_mesh:
            await mesh.start()
        try:
            yield
        finally:
            await shutdown_app(app)
            if manage_mesh:
                await mesh.aclose()

    routes: list[BaseRoute] = [
        *info.routes,
        *api.routes,
        *openai.routes,
        *events.routes,
        *peers.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                GatewayFront,
                keys=KeyRing(keys),
                metrics=metrics,
                throttle=FailedAttemptThrottle(auth_fail_burst, auth_fail_refill_per_s),
                host_guard=host_guard,
                fast={"/api/execute": ExecuteEndpoint(state)},
            )
        ],
        exception_handlers={404: _not_found, 500: _internal_error},
        lifespan=lifespan,
    )
    app.state.gateway = state
    return app


def gateway_state(app: Starlette) -> GatewayState:
    state: GatewayState = app.state.gateway
    return state


def begin_shutdown(app: Starlette) -> None:
    """End every open stream (SSE, task streams) now; safe to call more than once."""
    state = gateway_state(app)
    state.shutdown.set()
    for stream in list(state.streams):
        stream.cancel()


async def shutdown_app(app: Starlette) -> None:
    """End streams, cancel background async tasks, close the webhook client."""
    begin_shutdown(app)
    state = gateway_state(app)
    tasks = list(state.background)
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    await state.webhooks.aclose()


__all__ = ["begin_shutdown", "create_app", "gateway_state", "shutdown_app"]
