"""libp2p peer ids for the embedded workers.

A peer id is the base58btc text of a multihash of the protobuf-encoded public key. Ed25519 keys
are short enough for the *identity* multihash, which is why such ids start ``12D3KooW``.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# libp2p crypto.proto KeyType values
_KEY_TYPES = {0: "RSA", 1: "Ed25519", 2: "Secp256k1", 3: "ECDSA"}
_ED25519 = 1
_IDENTITY = 0x00
_SHA2_256 = 0x12
_MAX_INLINE_KEY = 42  # libp2p inlines keys of at most 42 bytes with the identity hash


@dataclass(frozen=True)
class Identity:
    """An Ed25519 key pair and the peer id it names. The private key never shows in a repr."""

    peer_id: str
    public_key: bytes
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def private_bytes(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated varint")


def encode_public_key(raw: bytes, key_type: int = _ED25519) -> bytes:
    """The libp2p ``PublicKey`` protobuf: field 1 (type) varint, field 2 (data) bytes."""
    return b"\x08" + _varint(key_type) + b"\x12" + _varint(len(raw)) + raw


def peer_id_from_public_key(public_key: bytes) -> str:
    """Peer id of a raw 32-byte Ed25519 public key (or an already protobuf-encoded key)."""
    encoded = encode_public_key(public_key) if len(public_key) == 32 else public_key
    if len(encoded) <= _MAX_INLINE_KEY:
        multihash = bytes([_IDENTITY]) + _varint(len(encoded)) + encoded
    else:
        multihash = bytes([_SHA2_256, 32]) + hashlib.sha256(encoded).digest()
    return str(base58.b58encode(multihash).decode("ascii"))


def new_identity(seed: bytes | None = None) -> Identity:
    """A fresh Ed25519 identity; a ``seed`` makes it deterministic (hashed unless 32 bytes)."""
    if seed is None:
        key = Ed25519PrivateKey.generate()
    else:
        material = seed if len(seed) == 32 else hashlib.sha256(seed).digest()
        key = Ed25519PrivateKey.from_private_bytes(material)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Identity(peer_id=peer_id_from_public_key(public), public_key=public, private_key=key)


def identity_from_private_bytes(raw: bytes) -> Identity:
    """Rebuild an identity from the 32 raw private bytes kept in a state folder."""
    if len(raw) != 32:
        raise ValueError("an Ed25519 private key is 32 bytes")
    return new_identity(raw)


def _check_public_key_proto(data: bytes) -> bool:
    # exactly two fields, in order: 1 = key type (varint), 2 = key bytes
    try:
        if not data or data[0] != 0x08:
            return False
        key_type, pos = _read_varint(data, 1)
        if key_type not in _KEY_TYPES or pos >= len(data) or data[pos] != 0x12:
            return False
        length, pos = _read_varint(data, pos + 1)
    except ValueError:
        return False
    if pos + length != len(data) or length == 0:
        return False
    return key_type != _ED25519 or length == 32


def is_valid_peer_id(text: object) -> bool:
    """True for a well-formed base58btc libp2p peer id (identity or sha2-256 multihash)."""
    if not isinstance(text, str) or not 40 <= len(text) <= 128:
        return False
    return _valid_peer_id_text(text)


@functools.lru_cache(maxsize=8192)
def _valid_peer_id_text(text: str) -> bool:
    # cached: every dispatch checks its worker id, and base58 decoding is most of the check
    if not (text.isascii() and text.isalnum()):  # b58decode would strip trailing whitespace
        return False
    try:
        raw = base58.b58decode(text)
    except ValueError:
        return False
    if len(raw) < 2:
        return False
    if raw[0] == _SHA2_256:
        return raw[1] == 32 and len(raw) == 34
    if raw[0] != _IDENTITY:
        return False
    try:
        length, pos = _read_varint(raw, 1)
    except ValueError:
        return False
    if length > _MAX_INLINE_KEY or pos + length != len(raw):
        return False
    return _check_public_key_proto(raw[pos:])


def public_key_from_peer_id(peer_id: str) -> bytes | None:
    """The raw Ed25519 public key inlined in an identity peer id, or None."""
    if not is_valid_peer_id(peer_id):
        return None
    raw = base58.b58decode(peer_id)
    if raw[0] != _IDENTITY:
        return None
    _, pos = _read_varint(raw, 1)
    proto = raw[pos:]
    if proto[:2] != b"\x08\x01":
        return None
    return bytes(proto[-32:])


__all__ = [
    "Identity",
    "encode_public_key",
    "identity_from_private_bytes",
    "is_valid_peer_id",
    "new_identity",
    "peer_id_from_public_key",
    "public_key_from_peer_id",
]
