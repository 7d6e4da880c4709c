"""``kind = "openai"``: forward the prompt to an OpenAI-compatible ``/chat/completions``."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from agentfm_nb.mesh.agents.base import AgentError, TextLineSplitter

_ERROR_BODY_MAX = 2000


class OpenAIUpstreamAgent:
    """Streams ``choices[0].delta.content`` of the upstream's SSE answer, re-cut into lines."""

    uses_output_dir = False

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self._timeout = httpx.Timeout(connect=connect_timeout, read=None, write=30.0, pool=None)
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"OpenAIUpstreamAgent(url={self.url!r}, model={self.model!r})"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(timeout=self._timeout, limits=limits, trust_env=False)
        return self._client

    async def stream(self, prompt: str, output_dir: Path | None) -> AsyncIterator[list[str]]:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "stream": True,
        }
        splitter = TextLineSplitter()
        try:
            async with self._http().stream(
                "POST", self.url, json=body, headers=self._headers()
            ) as resp:
                if resp.status_code >= 400:
                    raw = await resp.aread()
                    text = raw[:_ERROR_BODY_MAX].decode("utf-8", "replace").strip()
                    raise AgentError(f"upstream answered HTTP {resp.status_code}: {text}")
                ctype = resp.headers.get("content-type", "")
                if "text/event-stream" not in ctype:
                    # a server that ignores stream=true answers one JSON body
                    lines = splitter.feed(_message_text(json.loads(await resp.aread())))
                    if lines:
                        yield lines
                else:
                    async for lines in _sse_lines(resp, splitter):
                        yield lines
        except httpx.HTTPError as exc:
            raise AgentError(f"upstream {self.url} failed: {type(exc).__name__}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise AgentError(f"upstream sent an undecodable answer: {exc}") from None
        rest = splitter.flush()
        if rest:
            yield rest

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def _sse_lines(resp: httpx.Response, splitter: TextLineSplitter) -> AsyncIterator[list[str]]:
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
        lines = splitter.feed(_delta_text(chunk))
        if lines:
            yield lines


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
