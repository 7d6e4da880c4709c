"""``kind = "openai"``: forward the prompt to an OpenAI-compatible ``/chat/completions``."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from agentfm_nb.mesh.agents.base import AgentError, Hold

_ERROR_BODY_MAX = 2000
# scheme://user:password@host -> scheme://***@host, wherever a URL shows up in a message
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


class OpenAIUpstreamAgent:
    """Streams ``choices[0].delta.content`` of the upstream's SSE answer as it comes."""

    uses_output_dir = False

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        full = base_url.rstrip("/") + "/chat/completions"
        parts = urlsplit(full)
        # ``user:password@`` in base_url is Basic auth (unless a key is configured: Bearer wins);
        # it is kept out of the URL we use, show or put in messages
        self._basic: tuple[str, str] | None = None
        secrets: list[str] = []
        if parts.username is not None or parts.password is not None:
            user, password = unquote(parts.username or ""), unquote(parts.password or "")
            self._basic = (user, password)
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            secrets += [password, parts.password or "", token, f"{user}:{password}"]
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self._secrets = tuple(s for s in secrets if s)
        self.url = urlunsplit(parts)
        self.safe_url = self.url
        self.model = model
        self.api_key_env = api_key_env
        self._timeout = httpx.Timeout(connect=connect_timeout, read=None, write=30.0, pool=None)
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"OpenAIUpstreamAgent(url={self.safe_url!r}, model={self.model!r})"

    def _key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _scrub(self, text: str) -> str:
        """Text bound for a client with the key and the URL's ``user:password@`` taken out."""
        key = self._key()
        for secret in (key, *self._secrets):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return _USERINFO.sub(r"\1***@", text)

    def _auth(self) -> tuple[str, str] | None:
        return None if self._key() else self._basic

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(timeout=self._timeout, limits=limits, trust_env=False)
        return self._client

    async def stream(
        self, prompt: str, output_dir: Path | None, hold: Hold
    ) -> AsyncIterator[bytes]:
        """The upstream's text deltas as they come; a final newline as a printing agent's."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
        }
        ends_line = True
        try:
            async with self._http().stream(
                "POST", self.url, json=body, headers=self._headers(), auth=self._auth()
            ) as resp:
                if resp.status_code >= 400:
                    raw = await resp.aread()
                    text = raw[:_ERROR_BODY_MAX].decode("utf-8", "replace").strip()
                    raise AgentError(f"upstream answered HTTP {resp.status_code}: {text}")
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    # a server that ignores stream=true answers one JSON body
                    texts = [_message_text(json.loads(await resp.aread()))]
                else:
                    texts = _sse_texts(resp)  # type: ignore[assignment]
                async for text in _each(texts):
                    if text:
                        ends_line = text.endswith("\n")
                        yield text.encode("utf-8", "replace")
        except AgentError as exc:
            message = self._scrub(exc.message)
            raise AgentError(message, detail=message) from None
        except httpx.HTTPError as exc:
            message = self._scrub(f"upstream {self.url} failed: {type(exc).__name__}: {exc}")
            raise AgentError(message, detail=message) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            message = self._scrub(f"upstream sent an undecodable answer: {exc}")
            raise AgentError(message, detail=message) from None
        if not ends_line:
            yield b"\n"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _each(texts: list[str] | AsyncIterator[str]) -> AsyncIterator[str]:
    if isinstance(texts, list):
        for text in texts:
            yield text
    else:
        async for text in texts:
            yield text


async def _sse_texts(resp: httpx.Response) -> AsyncIterator[str]:
    async for raw in resp.aiter_lines():
        if not raw.startswith("data:"):
            continue  # comments, event names, blank separators
        data = raw[5:].strip()
        if data == "[DONE]":
            return
        if not data:
            continue
        chunk = json.loads(data)
        if isinstance(chunk, dict) and "error" in chunk:
            err = chunk["error"]
            message = err.get("message") if isinstance(err, dict) else err
            raise AgentError(f"upstream error: {message}")
        yield _delta_text(chunk)


def _delta_text(chunk: Any) -> str:
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    first = choices[0]
    delta = first.get("delta") or {}
    text = delta.get("content")
    if text is None:
        text = first.get("text")  # legacy completions-style chunks
    return text if isinstance(text, str) else ""


def _message_text(body: Any) -> str:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    text = message.get("content", choice.get("text", ""))
    return text if isinstance(text, str) else ""


__all__ = ["OpenAIUpstreamAgent"]
