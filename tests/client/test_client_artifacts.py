"""Safe extraction of crafted zips (real files on disk)."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from agentfm_nb.client.artifacts import extract_zip
from agentfm_nb.errors import ArtifactError


def _zip(path: Path, entries: list[tuple[str, bytes]], *, link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


def test_good_zip_extracts(tmp_path: Path) -> None:
    z = _zip(tmp_path / "t.zip", [("a.txt", b"hi"), ("sub/b.txt", b"yo")])
    out = extract_zip(z, tmp_path / "t")
    assert sorted(p.read_bytes() for p in out) == [b"hi", b"yo"]


@pytest.mark.parametrize(
    ("entries", "link", "code"),
    [
        ([("../evil.txt", b"x")], None, "zip_slip"),
        ([("a/../../evil.txt", b"x")], None, "zip_slip"),
        ([("/abs/evil.txt", b"x")], None, "zip_slip"),
        ([("ok.txt", b"x")], "link", "link"),
        ([("big.bin", b"x" * 2048)], None, "size_cap"),
    ],
)
def test_unsafe_zip_refused(
    tmp_path: Path, entries: list[tuple[str, bytes]], link: str | None, code: str
) -> None:
    z = _zip(tmp_path / "t.zip", entries, link=link)
    with pytest.raises(ArtifactError) as err:
        extract_zip(z, tmp_path / "out", max_bytes=1024)
    assert err.value.code == code
    assert not (tmp_path / "evil.txt").exists()
    assert not list((tmp_path / "out").rglob("*"))


def test_corrupt_zip(tmp_path: Path) -> None:
    bad = tmp_path / "t.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ArtifactError):
        extract_zip(bad, tmp_path / "out")
