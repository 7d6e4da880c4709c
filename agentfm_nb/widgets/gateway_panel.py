"""``GatewayPanel``: a LocalMeshGateway at a glance (front end: ``js/widgets/gateway_panel.ts``)."""

from __future__ import annotations

import asyncio
import html
from typing import Any

import httpx
import traitlets as t

from agentfm_nb.widgets._base import BaseWidget, safe_url

_POLL_S = 1.0
_LOG_LINES = 40


class GatewayPanel(BaseWidget):
    """Backend, URL, pid, uptime, online workers, log tail and a Stop button."""

    _bundle = "gateway_panel"

    info = t.Dict().tag(sync=True)
    log_tail = t.Unicode("").tag(sync=True)

    def __init__(self, gateway: Any, *, live: bool = True) -> None:
        super().__init__()
        self.gateway = gateway
        self._online: int | None = None
        self._error: str | None = None
        # What the panel keeps after stop: the last URL, pid and uptime it saw running.
        self._last_url = safe_url(str(gateway.url)) if gateway.running else ""
        self._last_uptime: float | None = None
        if gateway.running:
            # One check from the cell, so the first state (what nbclient saves) has the count.
            try:
                self._read_health(httpx.get(f"{gateway.url}/health", timeout=3.0))
            except httpx.HTTPError as exc:
                self._check_failed(exc)
        self._update()
        if live:
            self._submit(self._poll())

    def stop(self) -> None:
        """Stop the gateway (its agents are killed) and the panel's polling."""
        self._cancel_all()
        self.gateway.stop()
        self._update()
        self.refresh_display()

    def _update(self) -> None:
        gw = self.gateway
        running = bool(gw.running)
        if running:
            self._last_url = safe_url(str(gw.url))
            self._last_uptime = round(float(gw.uptime_s), 1)
        info = {
            "backend": str(getattr(gw, "backend", "?")),
            "url": self._last_url,
            "pid": gw.pid if running else None,
            "uptime_s": self._last_uptime,
            "online_workers": self._online if running else None,
            "running": running,
            "error": self._error,
        }
        try:
            tail = str(gw.log_tail(_LOG_LINES))
        except Exception:  # no log file (yet)
            tail = ""
        with self.hold_sync():
            self.info = info
            self.log_tail = tail
            self._stamp()

    async def _poll(self) -> None:
        async with httpx.AsyncClient(timeout=3.0) as http:
            while self.gateway.running:
                before = (self._online, self._error)
                try:
                    response = await http.get(f"{self.gateway.url}/health")
                except httpx.HTTPError as exc:
                    self._check_failed(exc)
                else:
                    self._read_health(response)
                self._update()
                if (self._online, self._error) != before:
                    self.refresh_display()
                await asyncio.sleep(_POLL_S)
        self._update()
        self.refresh_display()

    def _read_health(self, response: httpx.Response) -> None:
        try:
            self._online = int(response.json().get("online_workers", 0))
            self._error = None
        except (ValueError, AttributeError, TypeError) as exc:
            self._check_failed(exc)

    def _check_failed(self, exc: Exception) -> None:
        self._error = f"health check failed ({type(exc).__name__})"

    def _on_stop(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self._submit(asyncio.to_thread(self.stop))

    def _fallback_text(self) -> str:
        i = self.info
        if not i.get("running"):
            up = i.get("uptime_s")
            ran = f", ran {up:.0f}s" if isinstance(up, (int, float)) else ""
            return (
                f"GatewayPanel: {i.get('backend')} gateway at {i.get('url') or '?'} (stopped{ran})"
            )
        online = i.get("online_workers")
        workers = "workers: ?" if online is None else f"{online} workers online"
        return (
            f"GatewayPanel: {i.get('backend')} gateway running at {i.get('url')}"
            f" (pid {i.get('pid')}, {workers})"
        )

    def _fallback_html(self) -> str:
        return (
            f"<div><b>{html.escape(self._fallback_text())}</b>"
            f"<pre>{html.escape(self.log_tail[-4000:])}</pre></div>"
        )


__all__ = ["GatewayPanel"]
