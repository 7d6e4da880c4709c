"""``SwarmKey``: the SDK's validation and file format, readable by the SDK and back; no leaks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from agentfm.crypto import SwarmKey as SdkKey

from agentfm_nb.crypto import HEADER, KEY_HEX_LEN, SwarmKey

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (123, TypeError),
        (b"00" * 32, TypeError),
        ("ab" * 31, ValueError),
        ("ab" * 33, ValueError),
        ("zz" * 32, ValueError),
        (" " + "a" * 63, ValueError),
    ],
)
def test_refuses_what_the_sdk_refuses(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        SdkKey(value)  # type: ignore[arg-type]
    with pytest.raises(error):
        SwarmKey(value)  # type: ignore[arg-type]


def test_text_format_and_round_trip_with_the_sdk(tmp_path: Path) -> None:
    assert (HEADER, KEY_HEX_LEN) == ("/key/swarm/psk/1.0.0/\n/base16/\n", 64)
    key = SwarmKey(HEX.upper())
    assert key.key_hex == HEX
    assert key.to_text() == SdkKey(HEX).to_text() == str(key)
    path = key.save(tmp_path / "nested" / "swarm.key")
    assert path.is_absolute() and path.read_bytes() == key.to_text().encode()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert SdkKey.load(path).key_hex == HEX
    sdk_path = SdkKey.generate().save(tmp_path / "sdk.key")
    assert SwarmKey.load(sdk_path).key_hex == SdkKey.load(sdk_path).key_hex
    assert SwarmKey.from_string(key.to_text().replace("\n", "\r\n")) == key


def test_generate_eq_hash() -> None:
    a, b = SwarmKey.generate(), SwarmKey.generate()
    assert a != b and len(a.key_hex) == 64
    assert SwarmKey(a.key_hex) == a and hash(SwarmKey(a.key_hex)) == hash(a)
    assert a != a.key_hex
    assert len({a, SwarmKey(a.key_hex), b}) == 2


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        SwarmKey.load(tmp_path / "missing.key")
    bad = tmp_path / "bad.key"
    bad.write_text("/not/a/psk/\n/base16/\n" + HEX + "\n")
    with pytest.raises(ValueError):
        SwarmKey.from_string(bad.read_text())
    with pytest.raises(ValueError):
        SwarmKey.from_string(HEADER)


def test_repr_shows_no_part_of_the_key(tmp_path: Path) -> None:
    key = SwarmKey(HEX)
    text = repr(key)
    assert text.startswith("SwarmKey(") and key.fingerprint in text
    for i in range(0, 64 - 6):
        assert HEX[i : i + 6] not in text
    assert repr(SwarmKey(HEX)) == text and repr(SwarmKey.generate()) != text
