"""Hostile prompts and careless environments: what a command agent may see and what it gets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from agentfm_nb.gateway import LocalMeshGateway

# What the agent can see of the gateway's environment and of its prompt.
ENV_AGENT = """
import os, sys
data = sys.stdin.read()
print("stdin", repr(data), flush=True)
print("env_prompt", repr(os.environ.get("AGENTFM_PROMPT")), flush=True)
for name in ("AGENTFM_API_KEYS", "AGENTFM_WEBHOOK_SECRET", "AGENT_PRIVATE_KEY", "MY_TOKEN"):
    print(name, repr(os.environ.get(name)), flush=True)
"""

PRIVATE_KEY = "0x" + "5a" * 32
WEBHOOK_SECRET = "webhook-secret-only-for-the-gateway"


def _run(gw: LocalMeshGateway, key: str, prompt: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=gw.url, headers=headers, timeout=30) as http:
        peer = http.get("/api/workers").json()["agents"][0]["peer_id"]
        resp = http.post("/api/execute", json={"worker_id": peer, "prompt": prompt})
    assert resp.status_code == 200, resp.text
    return resp.text


def test_agents_do_not_inherit_gateway_secrets(
    start_gateway: Callable[..., LocalMeshGateway],
    write_agent: Callable[..., Any],
    api_key: str,
) -> None:
    script = write_agent(ENV_AGENT)
    worker = script.worker("Env", env={"MY_TOKEN": "configured-on-purpose"})
    gw = start_gateway(
        worker,
        api_keys=[api_key],
        env={"AGENT_PRIVATE_KEY": PRIVATE_KEY, "AGENTFM_WEBHOOK_SECRET": WEBHOOK_SECRET},
    )
    text = _run(gw, api_key, "hello")
    assert "stdin 'hello'" in text
    assert api_key not in text and PRIVATE_KEY not in text and WEBHOOK_SECRET not in text
    assert "AGENTFM_API_KEYS None" in text and "AGENT_PRIVATE_KEY None" in text
    # a variable the worker's own config sets still reaches it
    assert "MY_TOKEN 'configured-on-purpose'" in text


def test_prompt_with_nul_bytes_reaches_the_agent_on_stdin(
    start_gateway: Callable[..., LocalMeshGateway],
    write_agent: Callable[..., Any],
    api_key: str,
) -> None:
    gw = start_gateway(write_agent(ENV_AGENT).worker("Env"), api_keys=[api_key])
    text = _run(gw, api_key, "before\x00after")
    assert "stdin 'before\\x00after'" in text, text
    assert "env_prompt None" in text
    assert text.rstrip().endswith("[AGENTFM: NO_FILES]")
    assert "ERROR" not in text and "embedded null byte" not in text
