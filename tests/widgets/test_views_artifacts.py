"""Artifact card payloads: previews, inline budgets, keys, and reads limited to listed files."""

from __future__ import annotations

import base64
from pathlib import Path

from agentfm_nb.widgets import artifacts as art

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_cards_preview_text_inline_image_and_plain_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "report.md").write_text("# Title\n" + "word " * 1000)
    (tmp_path / "sub" / "pic.png").write_bytes(PNG)
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01" * 10)
    (tmp_path / "page.svg").write_text("<svg onload='alert(1)'/>")
    cards = art.artifact_cards(art.task_files(tmp_path), root=tmp_path)
    by_key = {c["key"]: c for c in cards}
    assert list(by_key) == ["blob.bin", "page.svg", "report.md", "sub/pic.png"]
    md = by_key["report.md"]
    assert md["kind"] == "text" and md["preview"].startswith("# Title")
    assert len(md["preview"]) == art.PREVIEW_CHARS and md["truncated"] is True
    assert md["url"].startswith("data:text/plain;charset=utf-8;base64,")
    pic = by_key["sub/pic.png"]
    assert pic["kind"] == "image" and pic["name"] == "pic.png"
    assert base64.b64decode(pic["url"].split(",", 1)[1]) == PNG
    # SVG may carry script: it is never inlined as an image
    assert by_key["page.svg"]["kind"] == "text"
    assert by_key["blob.bin"]["kind"] == "file"
    assert by_key["blob.bin"]["url"].startswith("data:application/octet-stream;base64,")
    assert all(str(tmp_path) not in str(c) for c in cards)  # no local paths reach the browser


def test_inline_budget_is_spent_once_then_files_are_fetched(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_bytes(b"x" * 40_000)
    cards = art.artifact_cards(art.task_files(tmp_path), inline_total=90_000)
    assert ["url" in c for c in cards] == [True, True, False]
    assert all(c["preview"] == "x" * art.PREVIEW_CHARS for c in cards)


def test_read_artifact_serves_only_listed_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("no")
    files = [tmp_path / "a.txt"]
    msg, data = art.read_artifact(files, "a.txt", root=tmp_path) or ({}, b"")
    assert msg == {
        "kind": "artifact_file",
        "key": "a.txt",
        "name": "a.txt",
        "mime": "text/plain;charset=utf-8",
    }
    assert data == b"hello"
    assert art.read_artifact(files, "secret.txt", root=tmp_path) is None
    assert art.read_artifact(files, "../a.txt", root=tmp_path) is None


def test_missing_folder_symlinks_and_vanished_files_are_skipped(tmp_path: Path) -> None:
    assert art.task_files(tmp_path / "nope") == []
    (tmp_path / "real.txt").write_text("r")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    cards = art.artifact_cards(
        [tmp_path / "link.txt", tmp_path / "gone.txt", tmp_path / "real.txt"]
    )
    assert [c["name"] for c in cards] == ["real.txt"]
