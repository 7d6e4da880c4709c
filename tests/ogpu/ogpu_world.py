"""Shared roles and state of the OpenGPU chain tests (dev account indices, the World)."""

from __future__ import annotations

from dataclasses import dataclass

from agentfm_nb.ogpu.chain import ChainConfig
from agentfm_nb.ogpu.devchain import LocalChain

CLIENT, MASTER, PROVIDER, AGENT, STRANGER = 0, 1, 2, 3, 4
MIN_LOCKUP = 10**17


@dataclass
class World:
    chain: LocalChain
    config: ChainConfig
    source: str
    master: str
    provider: str
    agent: str
    agent_key: str
    stranger_key: str
