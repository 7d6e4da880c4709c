"""``client.openai``: the OpenAI-compatible routes with typed answers.

``model`` may be any string (peer id, agent name or engine); anything but a peer id triggers a
one-time ``AgentFMRoutingWarning`` because names are unverifiable labels.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar, overload

import httpx

from agentfm_nb.client._shared import is_peer_id, messages_payload
from agentfm_nb.client._transport import error_from_response, stream_error, stream_timeout
from agentfm_nb.client.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ModelsList,
    TextCompletion,
)
from agentfm_nb.client.resources._base import AsyncResource, SyncResource
from agentfm_nb.errors import AgentFMError, GatewayProtocolError, error_from_envelope

T = TypeVar("T")


class AgentFMRoutingWarning(UserWarning):
    """``model`` was not a peer id: routing by a free label anyone can claim."""


_warned = False
_warn_lock = threading.Lock()


def _warn_routing(model: str) -> None:
    global _warned
    if _warned or is_peer_id(model):
        return
    with _warn_lock:
        if _warned:
            return
        _warned = True
    warnings.warn(
        f"model={model!r} is not a peer id; agent names and engines are unverifiable labels. "
        "Pin a peer id (client.workers.list()[i].peer_id) for production use.",
        AgentFMRoutingWarning,
        stacklevel=3,
    )


def _decode(parse: Callable[[Any], T], body: Any) -> T:
    try:
        return parse(body)
    except AgentFMError:
        raise
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise GatewayProtocolError(f"malformed OpenAI answer: {exc}") from None


def _frame(line: str, parse: Callable[[Any], T]) -> T | Literal[False] | None:
    """One SSE line → an object, ``None`` (skip) or ``False`` (``[DONE]``)."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return False
    try:
        body = json.loads(data)
    except ValueError:
        raise GatewayProtocolError("stream frame is not JSON") from None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        raise error_from_envelope(body, 502)
    return _decode(parse, body)


class Stream(Generic[T]):
    """Sync iterator over SSE chunks; ``close()`` (or ``with``) releases the response."""

    def __init__(self, response: httpx.Response, parse: Callable[[Any], T], base_url: str) -> None:
        self.response = response
        self._parse = parse
        self._base_url = base_url
        self._iter = self._gen()

    def _gen(self) -> Generator[T, None, None]:
        try:
            for line in self.response.iter_lines():
                item = _frame(line, self._parse)
                if item is False:
                    return
                if item is not None:
                    yield item
        except httpx.HTTPError as exc:
            raise stream_error(exc, self._base_url, "openai") from None
        finally:
            self.response.close()

    def __iter__(self) -> Iterator[T]:
        return self._iter

    def __next__(self) -> T:
        return next(self._iter)

    def close(self) -> None:
        self._iter.close()
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """Async iterator over SSE chunks; ``aclose()`` (or ``aclosing``) releases the response."""

    def __init__(self, response: httpx.Response, parse: Callable[[Any], T], base_url: str) -> None:
        self.response = response
        self._parse = parse
        self._base_url = base_url
        self._iter = self._gen()

    async def _gen(self) -> AsyncGenerator[T, None]:
        try:
            async for line in self.response.aiter_lines():
                item = _frame(line, self._parse)
                if item is False:
                    return
                if item is not None:
                    yield item
        except httpx.HTTPError as exc:
            raise stream_error(exc, self._base_url, "openai") from None
        finally:
            await self.response.aclose()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iter

    async def __anext__(self) -> T:
        return await self._iter.__anext__()

    async def aclose(self) -> None:
        await self._iter.aclose()
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _chat_body(model: str, messages: Sequence[Any], stream: bool, extra: dict[str, Any]) -> Any:
    return {**extra, "model": model, "messages": messages_payload(messages), "stream": stream}


def _completion_body(model: str, prompt: str, stream: bool, extra: dict[str, Any]) -> Any:
    return {**extra, "model": model, "prompt": prompt, "stream": stream}


# --- sync ------------------------------------------------------------------------------------


class _SyncPoster(SyncResource):
    def _post(self, path: str, body: Any, parse: Callable[[Any], T]) -> T:
        return _decode(parse, self._client._transport.json("POST", path, json=body))

    def _open_stream(self, path: str, body: Any, parse: Callable[[Any], T]) -> Stream[T]:
        c = self._client
        request = c._http.build_request("POST", path, json=body, timeout=stream_timeout(c.timeout))
        try:
            response = c._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise stream_error(exc, c.gateway_url, "openai") from None
        if response.status_code >= 400:
            try:
                content = response.read()
            except httpx.HTTPError as exc:
                raise stream_error(exc, c.gateway_url, "openai") from None
            finally:
                response.close()
            raise error_from_response(response.status_code, response.headers, content)
        return Stream(response, parse, c.gateway_url)


class ChatCompletions(_SyncPoster):
    @overload
    def create(
        self, *, model: str, messages: Sequence[Any], stream: Literal[False] = ..., **kw: Any
    ) -> ChatCompletion: ...
    @overload
    def create(
        self, *, model: str, messages: Sequence[Any], stream: Literal[True], **kw: Any
    ) -> Stream[ChatCompletionChunk]: ...
    def create(
        self, *, model: str, messages: Sequence[Any], stream: bool = False, **kw: Any
    ) -> ChatCompletion | Stream[ChatCompletionChunk]:
        _warn_routing(model)
        body = _chat_body(model, messages, stream, kw)
        if stream:
            return self._open_stream("/v1/chat/completions", body, ChatCompletionChunk.from_wire)
        return self._post("/v1/chat/completions", body, ChatCompletion.from_wire)


class Completions(_SyncPoster):
    @overload
    def create(
        self, *, model: str, prompt: str, stream: Literal[False] = ..., **kw: Any
    ) -> TextCompletion: ...
    @overload
    def create(
        self, *, model: str, prompt: str, stream: Literal[True], **kw: Any
    ) -> Stream[TextCompletion]: ...
    def create(
        self, *, model: str, prompt: str, stream: bool = False, **kw: Any
    ) -> TextCompletion | Stream[TextCompletion]:
        _warn_routing(model)
        body = _completion_body(model, prompt, stream, kw)
        if stream:
            return self._open_stream("/v1/completions", body, TextCompletion.from_wire)
        return self._post("/v1/completions", body, TextCompletion.from_wire)


class Models(SyncResource):
    def list(self) -> ModelsList:
        return _decode(ModelsList.from_wire, self._client._transport.json("GET", "/v1/models"))


class Chat:
    def __init__(self, client: Any) -> None:
        self.completions = ChatCompletions(client)


class OpenAI:
    """``client.openai``: ``chat.completions``, ``completions``, ``models``."""

    def __init__(self, client: Any) -> None:
        self.chat = Chat(client)
        self.completions = Completions(client)
        self.models = Models(client)


# --- async -----------------------------------------------------------------------------------


class _AsyncPoster(AsyncResource):
    async def _post(self, path: str, body: Any, parse: Callable[[Any], T]) -> T:
        return _decode(parse, await self._client._transport.json("POST", path, json=body))

    async def _open_stream(self, path: str, body: Any, parse: Callable[[Any], T]) -> AsyncStream[T]:
        c = self._client
        request = c._http.build_request("POST", path, json=body, timeout=stream_timeout(c.timeout))
        try:
            response = await c._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise stream_error(exc, c.gateway_url, "openai") from None
        if response.status_code >= 400:
            try:
                content = await response.aread()
            except httpx.HTTPError as exc:
                raise stream_error(exc, c.gateway_url, "openai") from None
            finally:
                await response.aclose()
            raise error_from_response(response.status_code, response.headers, content)
        return AsyncStream(response, parse, c.gateway_url)


class AsyncChatCompletions(_AsyncPoster):
    @overload
    async def create(
        self, *, model: str, messages: Sequence[Any], stream: Literal[False] = ..., **kw: Any
    ) -> ChatCompletion: ...
    @overload
    async def create(
        self, *, model: str, messages: Sequence[Any], stream: Literal[True], **kw: Any
    ) -> AsyncStream[ChatCompletionChunk]: ...
    async def create(
        self, *, model: str, messages: Sequence[Any], stream: bool = False, **kw: Any
    ) -> ChatCompletion | AsyncStream[ChatCompletionChunk]:
        """Await it; with ``stream=True`` then ``async for`` over the returned stream."""
        _warn_routing(model)
        body = _chat_body(model, messages, stream, kw)
        if stream:
            return await self._open_stream(
                "/v1/chat/completions", body, ChatCompletionChunk.from_wire
            )
        return await self._post("/v1/chat/completions", body, ChatCompletion.from_wire)


class AsyncCompletions(_AsyncPoster):
    @overload
    async def create(
        self, *, model: str, prompt: str, stream: Literal[False] = ..., **kw: Any
    ) -> TextCompletion: ...
    @overload
    async def create(
        self, *, model: str, prompt: str, stream: Literal[True], **kw: Any
    ) -> AsyncStream[TextCompletion]: ...
    async def create(
        self, *, model: str, prompt: str, stream: bool = False, **kw: Any
    ) -> TextCompletion | AsyncStream[TextCompletion]:
        _warn_routing(model)
        body = _completion_body(model, prompt, stream, kw)
        if stream:
            return await self._open_stream("/v1/completions", body, TextCompletion.from_wire)
        return await self._post("/v1/completions", body, TextCompletion.from_wire)


class AsyncModels(AsyncResource):
    async def list(self) -> ModelsList:
        body = await self._client._transport.json("GET", "/v1/models")
        return _decode(ModelsList.from_wire, body)


class AsyncChat:
    def __init__(self, client: Any) -> None:
        self.completions = AsyncChatCompletions(client)


class AsyncOpenAI:
    def __init__(self, client: Any) -> None:
        self.chat = AsyncChat(client)
        self.completions = AsyncCompletions(client)
        self.models = AsyncModels(client)


def reset_routing_warning() -> None:
    """Let the next non-peer-id ``model`` warn again (tests)."""
    global _warned
    _warned = False
