"""libp2p Ed25519 peer ids: format, a cross-implementation vector, validation, stability."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import base58
import pytest
from _runtime_support import python_worker, running_mesh

from agentfm_nb.mesh.peerid import (
    encode_public_key,
    is_valid_peer_id,
    new_identity,
    peer_id_from_public_key,
    public_key_from_peer_id,
)

# rust-libp2p's keypair_protobuf_roundtrip_ed25519 key and the id other libp2p stacks derive
VECTOR_SEED = "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d"
VECTOR_PROTO = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
VECTOR_ID = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"


def test_known_vector() -> None:
    ident = new_identity(bytes.fromhex(VECTOR_SEED))
    assert encode_public_key(ident.public_key).hex() == VECTOR_PROTO
    assert ident.peer_id == VECTOR_ID
    assert peer_id_from_public_key(bytes.fromhex(VECTOR_PROTO)) == VECTOR_ID
    assert public_key_from_peer_id(VECTOR_ID) == ident.public_key


def test_format_and_secret_free_repr() -> None:
    ident = new_identity()
    assert ident.peer_id.startswith("12D3KooW") and len(ident.peer_id) == 52
    assert is_valid_peer_id(ident.peer_id)
    assert ident.private_bytes().hex() not in repr(ident)
    sig = ident.sign(b"msg")
    ident.private_key.public_key().verify(sig, b"msg")
    assert new_identity(b"seed").peer_id == new_identity(b"seed").peer_id
    assert new_identity(b"seed").peer_id != new_identity(b"seed2").peer_id


@pytest.mark.parametrize(
    "bad",
    [
        "", "12D3KooW", "not-a-peer-id", VECTOR_ID[:-1], VECTOR_ID + "a",
        VECTOR_ID.replace("B", "0"), "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pI",
        base58.b58encode(b"\x00\x24" + b"\x08\x05\x12\x20" + b"\x01" * 32).decode(),
        base58.b58encode(b"\x12\x20" + b"\x01" * 31).decode(), None, 42,
        VECTOR_ID + " ", VECTOR_ID + "\n", VECTOR_ID + "\t", " " + VECTOR_ID,
    ],
)  # fmt: skip
def test_invalid_ids_are_refused(bad: object) -> None:
    assert not is_valid_peer_id(bad)


def test_sha256_multihash_ids_are_valid() -> None:
    assert is_valid_peer_id("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")


async def test_state_dir_keeps_ids_across_restarts(tmp_path: Path) -> None:
    spec = python_worker("Keeper", "agentfm_nb.mesh.demo:echo", count=3)
    state = tmp_path / "state"
    async with running_mesh(tmp_path, spec, seed=None, state_dir=state) as mesh:
        first = [s.peer_id for s in mesh.snapshot()]
    keys = state / "worker_keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert set(json.loads(keys.read_text())) == {"Keeper #1", "Keeper #2", "Keeper #3"}
    async with running_mesh(tmp_path, spec, seed=None, state_dir=state) as mesh:
        assert [s.peer_id for s in mesh.snapshot()] == first
    async with running_mesh(tmp_path, spec, seed=None) as mesh:  # no seed, no state: fresh ids
        assert set(s.peer_id for s in mesh.snapshot()).isdisjoint(first)
