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
        self._url = safe_url(str(gateway.url)) if gateway.running else ""
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
        self.info = {
            "backend": str(getattr(gw, "backend", "?")),
            "url": safe_url(str(gw.url))
            if running
            else safe_url(str(getattr(gw, "_url", "") or "")),
            "pid": gw.pid if running else None,
            "uptime_s": round(float(gw.uptime_s), 1) if running else 0.0,
            "online_workers": self._online if running else None,
            "running": running,
            "error": self._error,
        }
        try:
            self.log_tail = str(gw.log_tail(_LOG_LINES))
        except Exception:  # no log file (yet)
            self.log_tail = ""

    async def _poll(self) -> None:
        async with httpx.AsyncClient(timeout=3.0) as http:
            while self.gateway.running:
                try:
                    r = await http.get(f"{self.gateway.url}/health")
                    self._online = int(r.json().get("online_workers", 0))
                    self._error = None
                except (httpx.HTTPError, ValueError) as exc:
                    self._error = f"health check failed ({type(exc).__name__})"
                self._update()
                await asyncio.sleep(_POLL_S)
        self._update()
        self.refresh_display()

    def _on_stop(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self._submit(asyncio.to_thread(self.stop))

    def _fallback_text(self) -> str:
        i = self.info
        state = "running" if i.get("running") else "stopped"
        return (
            f"GatewayPanel: {i.get('backend')} gateway {state} at {i.get('url')}"
            f" (pid {i.get('pid')},"
            f" {i.get('online_workers')} workers online)"
        )

    def _fallback_html(self) -> str:
        return (
            f"<div><b>{html.escape(self._fallback_text())}</b>"
            f"<pre>{html.escape(self.log_tail[-4000:])}</pre></div>"
        )


__all__ = ["GatewayPanel"]
