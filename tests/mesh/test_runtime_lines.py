"""Cutting agent output into lines: the batched fast path must equal decoding line by line."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from _runtime_support import command_worker, peer, running_mesh

from agentfm_nb.mesh.agents.base import LineBatch, LineSplitter
from agentfm_nb.mesh.taskrun import ByteChannel


def reference(data: bytes) -> list[str]:
    """Line by line, the slow obvious way."""
    *lines, rest = data.split(b"\n")
    if rest:
        lines.append(rest)
    return [raw.removesuffix(b"\r").decode("utf-8", "replace") for raw in lines]


def feed_all(data: bytes, cuts: list[int], max_line: int) -> list[str]:
    splitter = LineSplitter(max_line)
    got: list[str] = []
    prev = 0
    for cut in [*cuts, len(data)]:
        batch = splitter.feed(data[prev:cut]) if cut > prev else []
        if isinstance(batch, LineBatch):
            assert batch.text == "\n".join(batch)  # the cached text always matches the lines
        got.extend(batch)
        prev = cut
    return got + splitter.flush()


def test_batched_decoding_equals_line_by_line() -> None:
    rng = random.Random(7)
    pieces = [b"plain", "h\u00e9llo w\u00f6rld \u2603".encode(), b"\xff\xfe bad", b"crlf\r", b""]
    for _ in range(300):
        data = b"\n".join(rng.choice(pieces) * rng.randint(0, 4) for _ in range(rng.randint(1, 30)))
        if rng.random() < 0.5:
            data += b"\n"
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data), rng.randint(0, 6))))
        assert feed_all(data, cuts, 1 << 20) == reference(data), (data, cuts)


def test_a_line_over_the_cap_is_cut_wherever_the_reads_fall() -> None:
    data = b"short\n" + b"a" * 20 + b"\nend\n"
    want = ["short", "a" * 8, "a" * 8, "a" * 4, "end"]
    for cuts in ([], [3], [10], [7, 15, 22], list(range(1, len(data)))):
        assert feed_all(data, cuts, 8) == want, cuts


def test_a_multibyte_character_split_across_reads_survives() -> None:
    data = "snow \u2603 man\n".encode()
    cut = data.index(b"\xe2") + 1  # inside the three bytes of the snowman
    assert feed_all(data, [cut], 1 << 20) == ["snow \u2603 man"]


async def test_channel_hands_over_everything_queued_at_once() -> None:
    channel = ByteChannel(8)
    await channel.put(b"a\nb")
    await channel.put(b"c")
    channel.put_nowait(b"\nd" * 8)  # the closing bytes may go past the limit
    channel.close()
    assert not channel.finished
    assert await channel.get_all() == b"a\nbc" + b"\nd" * 8
    assert channel.finished
    assert await channel.get_all() is None


async def test_a_full_channel_holds_the_producer_until_read() -> None:
    channel = ByteChannel(4)
    await channel.put(b"12345")
    blocked = asyncio.ensure_future(channel.put(b"6"))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert await channel.get_all() == b"12345"
    await blocked
    assert await channel.get_all() == b"6"


async def test_command_agent_bytes_pass_raw_and_lines_are_cut_from_them(tmp_path: Path) -> None:
    script = r"""
    import sys
    out = sys.stdout.buffer
    out.write(b"one\r\ntwo \xff\n[AGENTFM: NO_FILES]\n")
    out.flush()
    out.write(b"  [AGENTFM: kept, not at the start]\nlast")
    """
    raw = b"one\r\ntwo \xff\n[AGENTFM: NO_FILES]\n  [AGENTFM: kept, not at the start]\nlast"
    async with running_mesh(tmp_path, command_worker(tmp_path, "Bytes", script)) as mesh:
        async with mesh.open_task(peer(mesh, "Bytes"), "x", "bytes1") as run:
            body = b"".join([chunk async for chunk in run.chunks()])
        assert run.status == "ok", run.error
        # an agent's own marker lines are forwarded verbatim, as the real worker does
        assert body == raw + b"\n[AGENTFM: NO_FILES]\n"
        async with mesh.open_task(peer(mesh, "Bytes"), "x", "bytes2") as run:
            lines = [line async for line in run.lines()]
    assert lines == [
        "one",
        "two \ufffd",
        "[AGENTFM: NO_FILES]",
        "  [AGENTFM: kept, not at the start]",
        "last",
    ]
