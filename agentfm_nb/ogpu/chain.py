"""Chain configuration as a plain value: RPC URL, chain id and the Nexus/Terminal addresses."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from agentfm_nb.ogpu.errors import ChainConfigError

# Published deployments (ogpu 0.2.3). No RPC URL is assumed: the caller names the node.
_PRESETS: dict[str, tuple[int, str, str]] = {
    "mainnet": (
        1071,
        "0x2b0cC6058313801D5feb184a539e3a0C5A87a6a1",
        "0xaEBC7b712D38Fc4d841f0732c21B8774339869D3",
    ),
    "testnet": (
        200820172034,
        "0xF87bb2f3edB991a998992f14d35fE142e6Bb50b1",
        "0x1ea332Fc14a5AFD3AF3852B45C263Ab5b1Dd6f52",
    ),
}
LOCAL_CHAIN_ID = 31337
PRESET_NAMES = ("local", "testnet", "mainnet")


def display_url(url: str) -> str:
    """The RPC URL as it may be shown: hosted nodes put the API key in the path
    (``/v3/<key>``), the query or the userinfo, so only scheme, host and port survive."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<rpc url>"
    if not parts.scheme or not host:
        return "<rpc url>"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    hidden = bool(parts.username or parts.password or parts.query or parts.fragment)
    hidden = hidden or parts.path not in ("", "/")
    return f"{parts.scheme}://{netloc}" + ("/…" if hidden else "")


@dataclass(frozen=True)
class ChainConfig:
    """Where the agent talks to: passed around explicitly, never stored globally."""

    name: str
    rpc_url: str = field(repr=False)
    chain_id: int
    nexus: str
    terminal: str

    @property
    def display_url(self) -> str:
        """``rpc_url`` without anything that can carry a key (see :func:`display_url`)."""
        return display_url(self.rpc_url)

    def replace(self, **changes: object) -> ChainConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def preset(
        cls,
        name: str,
        *,
        rpc_url: str | None = None,
        nexus: str | None = None,
        terminal: str | None = None,
        chain_id: int | None = None,
    ) -> ChainConfig:
        """``mainnet``/``testnet`` carry the published ids and addresses; ``local`` needs the
        addresses of your own deployment."""
        if name == "local":
            if not nexus or not terminal:
                raise ChainConfigError("the local preset needs the nexus and terminal addresses")
            return cls(
                name="local",
                rpc_url=rpc_url or "http://127.0.0.1:8545",
                chain_id=chain_id if chain_id is not None else LOCAL_CHAIN_ID,
                nexus=nexus,
                terminal=terminal,
            )
        if name not in _PRESETS:
            raise ChainConfigError(
                f"unknown chain preset {name!r}; choose one of {', '.join(PRESET_NAMES)}"
            )
        if not rpc_url:
            raise ChainConfigError(f"the {name} preset needs an RPC URL (--rpc)")
        cid, default_nexus, default_terminal = _PRESETS[name]
        return cls(
            name=name,
            rpc_url=rpc_url,
            chain_id=chain_id if chain_id is not None else cid,
            nexus=nexus or default_nexus,
            terminal=terminal or default_terminal,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ChainConfig:
        """Build from ``OGPU_CHAIN``, ``OGPU_RPC_URL``, ``OGPU_NEXUS``, ``OGPU_TERMINAL``."""
        env = os.environ if environ is None else environ
        name = env.get("OGPU_CHAIN")
        if not name:
            raise ChainConfigError(
                "no chain configured: pass chain=ChainConfig(...) "
                "or set OGPU_CHAIN and OGPU_RPC_URL"
            )
        cid = env.get("OGPU_CHAIN_ID")
        return cls.preset(
            name,
            rpc_url=env.get("OGPU_RPC_URL"),
            nexus=env.get("OGPU_NEXUS"),
            terminal=env.get("OGPU_TERMINAL"),
            chain_id=int(cid) if cid else None,
        )


MAINNET_CHAIN_ID = _PRESETS["mainnet"][0]
TESTNET_CHAIN_ID = _PRESETS["testnet"][0]
