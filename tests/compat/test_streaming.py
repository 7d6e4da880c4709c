"""``agentfm_nb.streaming`` against ``agentfm.streaming``: same text out, same flags, any split."""

from __future__ import annotations

import random

import agentfm.streaming as sdk
import pytest

import agentfm_nb.streaming as ours

BODIES = [
    "Hello world\n",
    "alpha\n[AGENTFM: FILES_INCOMING]\nbeta\n",
    "first\n[AGENTFM: NO_FILES]\nlast\n",
    "\u274c ERROR: Worker is at max capacity (3/3). Try another worker.\n",
    "[AGENTFM: NO_FILES]\n[AGENTFM: FILES_INCOMING]\nrest\n",
    "  [AGENTFM: NO_FILES]\nkeep\n",
    "\t[AGENTFM: FILES_INCOMING]\n",
    "partial line",
    "[AGENTFM: PARTIAL",
    "[AGEN",
    "x [AGENTFM: NO_FILES] mid-line is text\n",
    "no newline at the end\n[AGENTFM: NO_FILES]",
    "",
    "\n\n\n",
    "crlf line\r\n[AGENTFM: NO_FILES]\r\n",
    "unicode \u00e9\u00e8 \U0001f600\n[AGENTFM: NO_FILES]\n",
]


def _drain(module: object, pieces: list[str]) -> tuple[str, bool, bool]:
    f = module.SentinelFilter()  # type: ignore[attr-defined]
    out = [text for piece in pieces for text in f.feed(piece)]
    out.append(f.finalize())
    return "".join(out), f.artifacts_incoming, f.artifacts_complete


def _splits(body: str, rng: random.Random) -> list[list[str]]:
    ways = [[body], list(body)]
    for _ in range(6):
        cuts = sorted(rng.sample(range(len(body) + 1), min(len(body), 3)))
        ways.append([body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)])
    return ways


@pytest.mark.parametrize("body", BODIES)
def test_sentinel_filter_matches_the_sdk_for_every_split(body: str) -> None:
    rng = random.Random(body)  # the same cuts on every run
    for pieces in _splits(body, rng):
        assert _drain(ours, pieces) == _drain(sdk, pieces), pieces
        assert "".join(ours.filter_iter(pieces)) == "".join(sdk.filter_iter(pieces))


def test_constants() -> None:
    assert (ours.SENTINEL_PREFIX, ours.ARTIFACT_INCOMING, ours.ARTIFACT_NONE) == (
        sdk.SENTINEL_PREFIX,
        sdk.ARTIFACT_INCOMING,
        sdk.ARTIFACT_NONE,
    )


SSE_CASES = [
    ["data: hello\n", "\n"],
    ["data: a\n", "data: b\n"],
    ["data: [DONE]\n"],
    [": comment\n", "data: x\n"],
    ["event: foo\n", "data: x\n"],
    ["data: x\n", "data: [DONE]\n", "data: y\n"],
    ["data:nospace\r\n", "data:    \n", "data:\n", "id: 3\n", "retry: 10\n"],
    ['data: {"choices": []}\n'],
]


@pytest.mark.parametrize("lines", SSE_CASES)
def test_sse_parsing_matches_the_sdk(lines: list[str]) -> None:
    assert list(ours.parse_sse_lines(lines)) == list(sdk.parse_sse_lines(lines))
    for line in lines:
        theirs = sdk.classify_sse_line(line)
        mine = ours.classify_sse_line(line)
        if theirs is sdk.SSE_DONE:
            assert mine is ours.SSE_DONE
        else:
            assert mine == theirs
