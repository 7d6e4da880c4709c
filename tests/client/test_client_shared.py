"""Pure helpers: sentinel splitting across reads, engine parsing, filters, key modes."""

from __future__ import annotations

import pytest

from agentfm_nb.client._shared import StreamSplitter, filter_workers, is_peer_id, resolve_api_key
from agentfm_nb.client.models import TaskChunk, WorkerProfile

BODY = (
    "line one\n[AGENT not a marker\nmid [AGENTFM: inline\nüñí ✓\n\n"
    "  [AGENTFM: NO_FILES]\n[AGENTFM: FILES_INCOMING]\n"
)


def _run(pieces: list[bytes]) -> tuple[str, list[str]]:
    s = StreamSplitter()
    chunks: list[TaskChunk] = []
    for p in pieces:
        chunks += s.feed(p)
    chunks += s.close()
    text = "".join(c.text for c in chunks if c.kind == "text")
    return text, [c.text for c in chunks if c.kind == "marker"]


def test_sentinel_split_at_every_byte() -> None:
    raw = BODY.encode()
    # sentinel lines (indented ones too, as the SDK's filter) never come out as text;
    # FILES_INCOMING becomes one empty marker chunk at the very end
    expected_text = "line one\n[AGENT not a marker\nmid [AGENTFM: inline\nüñí ✓\n\n"
    for cut in range(1, len(raw)):
        for cut2 in (cut, min(cut + 3, len(raw))):
            s = StreamSplitter()
            chunks: list[TaskChunk] = []
            for p in (raw[:cut], raw[cut:cut2], raw[cut2:]):
                chunks += s.feed(p)
            chunks += s.close()
            assert "".join(c.text for c in chunks if c.kind == "text") == expected_text, cut
            assert chunks[-1] == TaskChunk(text="", kind="marker"), cut
            assert [c for c in chunks if c.kind == "marker"] == [chunks[-1]], cut


def test_byte_by_byte_and_no_trailing_newline() -> None:
    raw = b"a\nb\n[AGENTFM: NO_FILES]"
    text, markers = _run([raw[i : i + 1] for i in range(len(raw))])
    assert text == "a\nb\n"
    assert markers == []  # NO_FILES is dropped, not yielded


def test_partial_line_is_not_held_back() -> None:
    s = StreamSplitter()
    assert [c.text for c in s.feed(b"progress 50%")] == ["progress 50%"]
    # the rest of that line cannot be a marker even though it starts like one
    assert [c.kind for c in s.feed(b"[AGENTFM: x]\n")] == ["text"]
    assert not s.finished


def test_engine_and_derived_fields() -> None:
    w = WorkerProfile.from_wire(
        {
            "peer_id": "12D3KooWabc",
            "hardware": "llama3.2 (GPU VRAM: 1/8 GB)",
            "status": "available",
            "current_tasks": 1,
            "max_tasks": 4,
            "name": "HR",
            "brand_new_field": {"x": 1},
        }
    )
    assert (w.model, w.engine, w.agent_name, w.is_available, w.load_ratio) == (
        "llama3.2",
        "llama3.2",
        "HR",
        True,
        0.25,
    )
    assert filter_workers([w], model="LLAMA3.2", agent_name="hr", available_only=True) == [w]
    assert filter_workers([w], author="nobody") == []


def test_api_key_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentfm_nb.client._shared import UNSET

    monkeypatch.setenv("AGENTFM_API_KEY", "from-env-0123456789")
    assert resolve_api_key(UNSET) == "from-env-0123456789"
    assert resolve_api_key(None) is None
    assert resolve_api_key("explicit-0123456789") == "explicit-0123456789"


def test_peer_id_check() -> None:
    assert is_peer_id("12D3KooWQLXSUaBdL1pXAGb7hbAwwcC4FDqAHjMu2TwCQ8WWZ5rS")
    assert not is_peer_id("llama3.2")


def test_inband_answers_are_recognised() -> None:
    from agentfm_nb.client._inband import agent_failure, capacity_refusal

    refusal = "\u274c ERROR: Worker is at max capacity (3/4). Try another worker.\n"
    assert capacity_refusal(refusal) == (3, 4)
    assert capacity_refusal("work\n" + refusal) is None  # only a whole-body refusal counts
    crashed = "out\nKeyError: 'x'\n\u26a0\ufe0f  Sandbox exited: exit status 2\n\n"
    assert agent_failure(crashed) == "KeyError: 'x' (sandbox exited: exit status 2)"
    assert agent_failure("\u274c ERROR: agent exited with code 1: boom\n") == (
        "agent exited with code 1: boom"
    )
    assert agent_failure("all good\n\n") is None
