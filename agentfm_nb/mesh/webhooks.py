"""Completion webhooks: the SSRF guard and the signed, bounded POST.

As in the real gateway the URL is checked at delivery only (a submit is always accepted, a
refused URL is silently not posted), on freshly resolved addresses; the POST then goes to the
address that was checked, so a DNS answer that changes in between cannot redirect it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

log = logging.getLogger("agentfm_nb.mesh.webhooks")

SIGNATURE_HEADER = "X-AgentFM-Signature"
TIMEOUT_S = 30.0
RESPONSE_CAP = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(ValueError):
    """The webhook URL is malformed or points somewhere the guard does not allow."""


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _forbidden(addr: IPAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global  # shared (CGNAT), documentation and other special ranges
    )


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    scheme: str
    host: str
    port: int


def parse_target(url: str) -> WebhookTarget:
    """Validate the shape of a webhook URL (http/https with a host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"malformed webhook_url: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused("webhook_url must be http or https")
    if not parts.hostname:
        raise WebhookRefused("webhook_url has no host")
    if parts.username or parts.password:
        raise WebhookRefused("webhook_url must not carry credentials")
    default = 443 if parts.scheme == "https" else 80
    return WebhookTarget(url, parts.scheme, parts.hostname, port or default)


async def resolve_checked(target: WebhookTarget, *, allow_private: bool) -> list[IPAddress]:
    """Resolve the host and refuse it if any address is loopback/private/link-local."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addrs = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            raise WebhookRefused(f"webhook_url host does not resolve: {exc}") from None
        addrs = []
        for info in infos:
            addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if addr not in addrs:
                addrs.append(addr)
        if not addrs:
            raise WebhookRefused("webhook_url host does not resolve")
    if not allow_private:
        for addr in addrs:
            if _forbidden(addr):
                raise WebhookRefused(
                    f"webhook_url resolves to a non-public address ({addr}); set "
                    "AGENTFM_WEBHOOK_ALLOW_PRIVATE=1 to allow it"
                )
    return addrs


def _pinned_url(target: WebhookTarget, addr: IPAddress) -> str:
    parts = urlsplit(target.url)
    host = f"[{addr}]" if isinstance(addr, ipaddress.IPv6Address) else str(addr)
    return urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))


class WebhookSender:
    """Posts completion notices; one pooled httpx client per gateway app."""

    def __init__(self, *, secret: str | None = None, allow_private: bool = False) -> None:
        self._secret = secret or None
        self.allow_private = allow_private
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        signed = "signed" if self._secret else "unsigned"
        return f"WebhookSender({signed}, allow_private={self.allow_private})"

    async def check(self, url: str) -> WebhookTarget:
        """The whole check (shape, resolution, addresses) without posting; raises
        :class:`WebhookRefused`."""
        target = parse_target(url)
        await resolve_checked(target, allow_private=self.allow_private)
        return target

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=TIMEOUT_S, follow_redirects=False, trust_env=False
            )
        return self._client

    async def post(self, target: WebhookTarget, payload: dict[str, object]) -> int | None:
        """POST ``payload``; returns the HTTP status, or ``None`` when refused or failed."""
        body = orjson.dumps(payload)
        try:
            addrs = await resolve_checked(target, allow_private=self.allow_private)
        except WebhookRefused as exc:
            log.warning("webhook for %s refused: %s", payload.get("task_id"), exc)
            return None
        headers = {"content-type": "application/json", "user-agent": "agentfm-nb-gateway"}
        default_port = 443 if target.scheme == "https" else 80
        host = f"[{target.host}]" if ":" in target.host else target.host  # IPv6 literal
        headers["host"] = host if target.port == default_port else f"{host}:{target.port}"
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self._http().build_request(
            "POST",
            _pinned_url(target, addrs[0]),
            content=body,
            headers=headers,
            extensions=extensions,
        )
        try:
            response = await self._http().send(request, stream=True)
            try:
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read >= RESPONSE_CAP:
                        break
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            log.warning("webhook for %s failed: %s", payload.get("task_id"), exc)
            return None
        return response.status_code

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
