"""``SwarmKey``: the pre-shared key of a private AgentFM mesh (libp2p PSK v1).

A private mesh is started with ``agentfm -swarmkey FILE``; every peer needs the same file. The
file is three lines: the protocol path ``/key/swarm/psk/1.0.0/``, the encoding ``/base16/`` and
64 hex digits (32 random bytes). The key is a secret: its repr shows only a fingerprint of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import string
from pathlib import Path
from typing import Final

PSK_PROTOCOL: Final = "/key/swarm/psk/1.0.0/"
HEADER: Final = f"{PSK_PROTOCOL}\n/base16/\n"
KEY_HEX_LEN: Final = 64

_HEX_DIGITS = frozenset(string.hexdigits)


class SwarmKey:
    """A 256-bit swarm key; ``generate()``, ``load(path)``, ``save(path)``, ``to_text()``."""

    __slots__ = ("key_hex",)

    key_hex: str

    def __init__(self, key_hex: str) -> None:
        if not isinstance(key_hex, str):
            raise TypeError(f"key_hex must be a str, not {type(key_hex).__name__}")
        if len(key_hex) != KEY_HEX_LEN:
            raise ValueError(
                f"key_hex must be {KEY_HEX_LEN} hex characters, got {len(key_hex)} characters"
            )
        if not _HEX_DIGITS.issuperset(key_hex):
            raise ValueError("key_hex contains non-hex characters")
        self.key_hex = key_hex.lower()

    @classmethod
    def generate(cls) -> SwarmKey:
        """A fresh key from the operating system's secure random source."""
        return cls(secrets.token_hex(KEY_HEX_LEN // 2))

    @classmethod
    def from_string(cls, text: str) -> SwarmKey:
        """Parse the text of a ``swarm.key`` file."""
        lines = text.splitlines()
        if len(lines) < 3 or PSK_PROTOCOL not in lines[0]:
            raise ValueError(
                "invalid libp2p swarm key format (expected the /key/swarm/psk/1.0.0/ header)"
            )
        return cls(lines[2].strip())

    @classmethod
    def load(cls, path: str | Path) -> SwarmKey:
        """Read a ``swarm.key`` file; ``FileNotFoundError`` when there is none."""
        p = Path(path).expanduser().resolve()
        if not p.is_file():
            raise FileNotFoundError(f"swarm key not found at {p}")
        return cls.from_string(p.read_text(encoding="utf-8"))

    def to_text(self) -> str:
        """The file's text, ending in a newline."""
        return f"{HEADER}{self.key_hex}\n"

    def __str__(self) -> str:
        return self.to_text()

    def save(self, path: str | Path) -> Path:
        """Write the file readable by its owner only; returns the absolute path."""
        p = Path(path).expanduser().resolve()
        p.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start, so the key is never briefly readable by others.
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:  # bytes: no newline translation on Windows
            fh.write(self.to_text().encode("ascii"))
        with contextlib.suppress(OSError, NotImplementedError):
            os.chmod(p, 0o600)  # an existing file keeps its old mode through O_TRUNC
        return p

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SwarmKey) and secrets.compare_digest(self.key_hex, other.key_hex)

    def __hash__(self) -> int:
        return hash((SwarmKey, self.key_hex))

    @property
    def fingerprint(self) -> str:
        """The first 12 hex digits of the key's SHA-256: tells keys apart, reveals none of it."""
        return hashlib.sha256(self.key_hex.encode("ascii")).hexdigest()[:12]

    def __repr__(self) -> str:
        # Not the key's own digits (the SDK shows 12 of them): a repr ends up in logs.
        return f"SwarmKey(sha256:{self.fingerprint})"


__all__ = ["HEADER", "KEY_HEX_LEN", "SwarmKey"]
