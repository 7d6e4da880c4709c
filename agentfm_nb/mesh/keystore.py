"""Worker identities: derived from the config's seed, kept in the state folder, or fresh."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from agentfm_nb.mesh.config import ConfigError, MeshConfig, expanded_names
from agentfm_nb.mesh.peerid import Identity, identity_from_private_bytes, new_identity

KEYS_FILE = "worker_keys.json"


def worker_identities(config: MeshConfig) -> dict[str, Identity]:
    """One identity per (expanded) worker name; stable across restarts given a seed or state."""
    names = [n for spec in config.workers for n in expanded_names(spec)]
    seed = config.seed
    if seed is not None:
        return {n: new_identity(f"agentfm-nb/peer/{seed}/{n}".encode()) for n in names}
    if config.state_dir is None:
        return {n: new_identity() for n in names}
    return load_or_create_keys(config.state_dir / KEYS_FILE, names)


def load_or_create_keys(path: Path, names: list[str]) -> dict[str, Identity]:
    """Worker keys kept across restarts in ``<state_dir>/worker_keys.json`` (mode 0600)."""
    stored: dict[str, str] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read worker keys {str(path)!r}: {exc}") from None
        if isinstance(data, dict):
            stored = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}
    out: dict[str, Identity] = {}
    changed = False
    for name in names:
        raw = stored.get(name)
        ident: Identity | None = None
        if raw is not None:
            with contextlib.suppress(ValueError):
                ident = identity_from_private_bytes(bytes.fromhex(raw))
        if ident is None:
            ident = new_identity()
            stored[name] = ident.private_bytes().hex()
            changed = True
        out[name] = ident
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(stored, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    return out


__all__ = ["KEYS_FILE", "load_or_create_keys", "worker_identities"]
