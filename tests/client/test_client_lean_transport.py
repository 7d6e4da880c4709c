"""The lean HTTP/1.1 transport: connection reuse, expiry, and what a broken server does to it.

Wire faults come from a raw asyncio server in the test's own loop (bytes a real gateway never
sends); reuse and release are checked against the real embedded gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from agentfm_nb.client import AsyncAgentFMClient
from agentfm_nb.client._http11 import head_bytes
from agentfm_nb.client._lean import LeanTransport, mocked
from agentfm_nb.errors import GatewayConnectionError, WorkerStreamError

PEER = "12D3KooWQLXSUaBdL1pXAGb7hbAwwcC4FDqAHjMu2TwCQ8WWZ5rS"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def _lean(client: AsyncAgentFMClient) -> LeanTransport:
    transport = client._http._transport
    assert isinstance(transport, LeanTransport)
    return transport


async def _echo_peer(client: AsyncAgentFMClient) -> str:
    return next(w.peer_id for w in await client.workers.list() if w.name == "Echo")


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server on 127.0.0.1; ``handler(reader, writer, n)`` gets the n-th connection."""
    count = 0
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer, count)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + (await reader.readexactly(length) if length else b"")


def _chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


def _whole(text: bytes) -> bytes:
    """A complete chunked 200 answer carrying ``text``."""
    return OK_HEAD + _chunked(text) + b"0\r\n\r\n"


async def _answer_the_rest(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: bytes
) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError):
        while True:
            await _read_request(reader)
            writer.write(_whole(text))


# --- against the real gateway ---------------------------------------------------------------


async def test_sequential_tasks_reuse_one_connection(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as client:
        peer = await _echo_peer(client)
        lean = _lean(client)
        before = len(lean._open)
        for i in range(5):
            result = await client.tasks.run(worker_id=peer, prompt=f"hi {i}")
            assert f"hi {i}" in result.text
        assert len(lean._open) == before  # the listing's connection carried every task


async def test_concurrent_tasks_return_their_connections(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as client:
        peer = await _echo_peer(client)
        lean = _lean(client)
        results = await asyncio.gather(
            *(client.tasks.run(worker_id=peer, prompt=f"p{i}") for i in range(3))
        )
        assert [r.text.strip() for r in results] == [f"p{i}" for i in range(3)] or all(
            f"p{i}" in r.text for i, r in enumerate(results)
        )
        idle = sum(len(stack) for stack in lean._idle.values())
        assert idle == len(lean._open) >= 1  # everything read to its end went back


async def test_leaving_a_stream_early_drops_its_connection(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as client:
        poet = next(w.peer_id for w in await client.workers.list() if w.name == "Poet")
        lean = _lean(client)
        async for _ in client.tasks.stream(worker_id=poet, prompt="a long poem"):
            break
        for _ in range(100):  # asyncio closes the dropped generator on one of its next turns
            if not any(not c.done for c in lean._open):
                break
            await asyncio.sleep(0.01)
        # an unfinished body must never be reused: closing it is how the gateway learns
        assert all(conn.done for stack in lean._idle.values() for conn in stack)
        assert len(lean._open) == sum(len(s) for s in lean._idle.values())


async def test_idle_connection_past_expiry_is_replaced(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway.url, api_key=None) as client:
        lean = _lean(client)
        lean._expiry = 0.05
        assert await client.health()
        (first,) = [c for s in lean._idle.values() for c in s]
        await asyncio.sleep(0.15)
        assert await client.health()
        assert not first.open  # closed, not reused
        (second,) = [c for s in lean._idle.values() for c in s]
        assert second is not first


# --- wire faults ----------------------------------------------------------------------------


async def test_keepalive_closed_under_the_request_gets_one_fresh_try() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(_whole(b"first\n"))
        await writer.drain()
        if n == 1:
            await _read_request(reader)  # the next request on this connection: no answer
            return
        await _answer_the_rest(reader, writer, b"again\n")

    async with raw_server(handler) as url, AsyncAgentFMClient(url) as client:
        assert (await client.tasks.run(worker_id=PEER, prompt="1")).text == "first\n"
        assert (await client.tasks.run(worker_id=PEER, prompt="2")).text == "first\n"


async def test_truncated_body_is_a_worker_stream_error_and_not_pooled() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(OK_HEAD + _chunked(b"partial line\n"))
        await writer.drain()

    async with raw_server(handler) as url, AsyncAgentFMClient(url) as client:
        chunks: list[str] = []
        with pytest.raises(WorkerStreamError, match="complete message body"):
            async for chunk in client.tasks.stream(worker_id=PEER, prompt="x"):
                chunks.append(chunk.text)
        assert chunks == ["partial line\n"]  # what arrived was handed over first
        assert not _lean(client)._open


async def test_body_delimited_by_close_is_read_to_the_end() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it\n")
        writer.write(b"[AGENTFM: NO_FILES]\n")
        await writer.drain()

    async with raw_server(handler) as url, AsyncAgentFMClient(url) as client:
        assert (await client.tasks.run(worker_id=PEER, prompt="x")).text == "all of it\n"


@pytest.mark.parametrize(
    "answer",
    [
        b"HELLO THERE\r\n\r\n",
        b"HTTP/1.1 abc\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    ],
)
async def test_garbage_answers_are_typed(answer: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()
        await asyncio.sleep(0.5)

    async with raw_server(handler) as url, AsyncAgentFMClient(url) as client:
        with pytest.raises(WorkerStreamError, match="malformed HTTP answer"):
            await client.tasks.run(worker_id=PEER, prompt="x")
        assert not _lean(client)._open


async def test_silent_server_times_out_on_plain_requests() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        await asyncio.sleep(5)

    async with raw_server(handler) as url, AsyncAgentFMClient(url, timeout=0.3, retries=0) as c:
        with pytest.raises(GatewayConnectionError) as info:
            await c.workers.list()
        assert info.value.code == "timeout"


async def test_a_large_body_is_read_with_bounded_buffering() -> None:
    piece = b"y" * 65535 + b"\n"
    pieces = 64  # 4 MiB

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(OK_HEAD)
        for _ in range(pieces):
            writer.write(_chunked(piece))
            await writer.drain()
        writer.write(_chunked(b"[AGENTFM: NO_FILES]\n") + b"0\r\n\r\n")
        await writer.drain()

    async with raw_server(handler) as url, AsyncAgentFMClient(url) as client:
        lean = _lean(client)
        total, most = 0, 0
        async for chunk in client.tasks.stream(worker_id=PEER, prompt="x"):
            total += len(chunk.text)
            most = max([most] + [c.buffered for c in lean._open])
            await asyncio.sleep(0.002)  # a slow reader: the socket must stop being read
        assert total == len(piece) * pieces
        # 1 MiB high-water mark, plus up to 256 KiB asyncio reads at once
        assert most <= (1 << 20) + 2 * 262144


def test_request_heads_refuse_line_breaks() -> None:
    with pytest.raises(httpx.LocalProtocolError):
        head_bytes("POST", b"/api/execute", [(b"Authorization", b"Bearer k\r\nX-Evil: 1")])
    assert head_bytes("GET", b"/x", [(b"A", b"b")]) == b"GET /x HTTP/1.1\r\nA: b\r\n"


async def test_mocks_see_the_hot_path() -> None:
    assert not mocked()
    with respx.mock(base_url="http://127.0.0.1:9") as router:
        router.post("/api/execute").respond(200, text="mocked\n[AGENTFM: NO_FILES]\n")
        assert mocked()
        async with AsyncAgentFMClient("http://127.0.0.1:9") as client:
            result = await client.tasks.run(worker_id=PEER, prompt="x")
        assert result.text == "mocked\n"
    assert not mocked()


async def test_informational_answers_are_skipped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)  # read on its own, not glued to the real answer
        writer.write(_whole(b"after hints\n"))
        await writer.drain()
        await asyncio.sleep(0.5)

    async with raw_server(handler) as url, AsyncAgentFMClient(url) as client:
        assert (await client.tasks.run(worker_id=PEER, prompt="x")).text == "after hints\n"


@pytest.mark.parametrize("when", ["glued", "later"])
async def test_bytes_nobody_asked_for_never_answer_the_next_request(when: str) -> None:
    """Extra bytes after an answer (in the same read, or later on the idle connection) must
    never be taken as the next request's answer: that connection is closed, not reused."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await _read_request(reader)
        answer = _whole(f"answer {n}\n".encode())
        stray = _whole(b"stray\n")
        if when == "glued":
            writer.write(answer + stray)
        else:
            writer.write(answer)
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(stray)
        await writer.drain()
        await _answer_the_rest(reader, writer, b"reused\n")

    async with raw_server(handler) as url, AsyncAgentFMClient(url) as client:
        assert (await client.tasks.run(worker_id=PEER, prompt="1")).text == "answer 1\n"
        await asyncio.sleep(0.3)
        assert (await client.tasks.run(worker_id=PEER, prompt="2")).text == "answer 2\n"


def test_the_async_client_runs_on_uvloop(gateway: Any) -> None:
    """Apps served by uvicorn[standard] run our async client on uvloop, whose transports are
    not ``asyncio.Transport`` and which reports ``connection_made`` a turn late."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> list[str]:
        async with AsyncAgentFMClient(gateway.url, api_key=None) as client:
            peer = await _echo_peer(client)
            rows = await client.tasks.scatter([f"u{i}" for i in range(20)], peer_ids=[peer])
            return [r.text.strip() for r in rows]

    assert uvloop.run(main()) == [f"u{i}" for i in range(20)]
