"""The embedded AgentFM gateway: a local mesh of agents behind the real gateway's protocol.

``create_app(mesh)`` builds the Starlette app; ``python -m agentfm_nb.mesh`` runs it.
Names load lazily so importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "create_app": "agentfm_nb.mesh.app",
    "Mesh": "agentfm_nb.mesh.runtime",
    "MeshConfig": "agentfm_nb.mesh.config",
    "WorkerSpec": "agentfm_nb.mesh.config",
    "load_config": "agentfm_nb.mesh.config",
    "parse_config": "agentfm_nb.mesh.config",
    "demo_config": "agentfm_nb.mesh.config",
    "ServeOptions": "agentfm_nb.mesh.server",
    "serve": "agentfm_nb.mesh.server",
}

if TYPE_CHECKING:
    from agentfm_nb.mesh.app import create_app
    from agentfm_nb.mesh.config import (
        MeshConfig,
        WorkerSpec,
        demo_config,
        load_config,
        parse_config,
    )
    from agentfm_nb.mesh.runtime import Mesh
    from agentfm_nb.mesh.server import ServeOptions, serve


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentfm_nb.mesh' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Mesh",
    "MeshConfig",
    "ServeOptions",
    "WorkerSpec",
    "create_app",
    "demo_config",
    "load_config",
    "parse_config",
    "serve",
]
