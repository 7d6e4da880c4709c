"""The official SDK page's examples, run unchanged but for the import (and a free port).

This is the drop-in promise of issue 3: code written for ``agentfm-sdk`` runs on ``agentfm_nb``
by changing ``from agentfm import ...`` to ``from agentfm_nb import ...``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from agentfm_nb import (
    AgentFMClient,
    AgentFMError,
    AsyncAgentFMClient,
    AuthenticationError,
    GatewayConnectionError,
    InvalidRequestError,
    LocalMeshGateway,
    MeshOverloadedError,
    ModelNotFoundError,
    WebhookPayload,
    WebhookReceiver,
    WorkerNotFoundError,
    WorkerStreamError,
    WorkerUnreachableError,
)
from agentfm_nb.mesh.peerid import new_identity

STRANGER = new_identity().peer_id  # a real peer id, fresh: on no mesh


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_hello_world_discover_pick_dispatch(gateway: Any) -> None:
    with AgentFMClient(gateway_url=gateway.url, artifacts_dir=gateway.artifacts_dir) as client:
        lines = [
            f"{w.peer_id[:12]}...  {w.author!r}  load={w.current_tasks}/{w.max_tasks}"
            for w in client.workers.list(model="llama3.2")
        ]
        assert len(lines) == 2  # Poet and Analyst advertise llama3.2

        worker = client.workers.list(model="qwen2.5")[0]  # Scribe writes a file
        result = client.tasks.run(
            worker_id=worker.peer_id,
            prompt="Draft a 200-word leave policy. Save it as policy.md to /tmp/output.",
        )
        assert result.text and result.worker_id == worker.peer_id
        assert result.duration_seconds > 0
        assert result.artifacts and all(isinstance(p, Path) for p in result.artifacts)
        assert all(p.stat().st_size > 0 for p in result.artifacts)


def test_streaming_and_scatter(gateway: Any) -> None:
    with AgentFMClient(gateway_url=gateway.url) as client:
        worker = client.workers.list(model="llama3.2")[0]
        text = "".join(
            chunk.text
            for chunk in client.tasks.stream(worker_id=worker.peer_id, prompt="hello")
            if chunk.kind == "text"
        )
        assert text and "[AGENTFM:" not in text

        prompts = [f"Summarise document #{i}" for i in range(12)]
        results = client.tasks.scatter(
            prompts,
            peer_ids=[w.peer_id for w in client.workers.list(available_only=True)],
            max_concurrency=8,
            max_retries=2,
        )
        assert [r.prompt for r in results] == prompts
        assert all(r.status == "success" and len(r.text) > 0 for r in results)

        results = client.tasks.scatter_by_model(
            prompts, model="llama3.2", max_workers=4, max_concurrency=8, max_retries=2
        )
        assert {r.worker_id for r in results} <= {
            w.peer_id for w in client.workers.list(model="llama3.2")
        }
        picked = client.tasks.scatter_by_model(
            prompts, model="llama3.2", pick=lambda ws: sorted(ws, key=lambda w: w.gpu_usage_pct)[:1]
        )
        assert len({r.worker_id for r in picked}) == 1


def test_openai_namespace_and_official_openai_client(gateway: Any) -> None:
    with AgentFMClient(gateway_url=gateway.url) as client:
        worker = client.workers.list(model="echo")[0]
        resp = client.openai.chat.completions.create(
            model=worker.peer_id, messages=[{"role": "user", "content": "hi"}]
        )
        assert "hi" in (resp.choices[0].message.content or "")
        streamed = "".join(
            chunk.choices[0].delta.content
            for chunk in client.openai.chat.completions.create(
                model=worker.peer_id, messages=[{"role": "user", "content": "hi"}], stream=True
            )
            if chunk.choices and chunk.choices[0].delta.content
        )
        assert streamed == resp.choices[0].message.content


def test_auth_modes_and_error_handling(
    start_gateway: Any, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = start_gateway(api_keys=[api_key])
    monkeypatch.setenv("AGENTFM_API_KEY", api_key)
    with AgentFMClient(gateway_url=gw.url) as client:  # falls back to AGENTFM_API_KEY
        assert STRANGER not in {w.peer_id for w in client.workers.list()}
        other = client.with_options(api_key="x" * 32)
        try:
            other.workers.list()
        except AuthenticationError as e:
            assert (e.code, e.status) == ("invalid_api_key", 401)
        else:
            pytest.fail("a wrong key was accepted")
    with (
        AgentFMClient(gateway_url=gw.url, api_key=None) as anonymous,  # explicit no-auth
        pytest.raises(AuthenticationError),
    ):
        anonymous.workers.list()

    # the page's except ladder, against a well-formed peer id that no worker has
    with AgentFMClient(gateway_url=gw.url, api_key=api_key) as client:
        caught = ""
        try:
            client.tasks.run(worker_id=STRANGER, prompt="...")
        except AuthenticationError:
            caught = "auth"
        except WorkerNotFoundError:
            caught = "not found"
        except WorkerUnreachableError:
            caught = "unreachable"
        except MeshOverloadedError:
            caught = "overloaded"
        except WorkerStreamError:
            caught = "stream"
        except (ModelNotFoundError, InvalidRequestError, AgentFMError):
            caught = "other"
        assert caught == "not found"


async def test_async_client_and_aclosing(gateway: Any) -> None:
    async with AsyncAgentFMClient(gateway_url=gateway.url) as client:
        workers = await client.workers.list()
        worker = next(w for w in workers if w.name == "Poet")
        seen = []
        async with aclosing(client.tasks.stream(worker_id=worker.peer_id, prompt="...")) as stream:
            async for chunk in stream:
                seen.append(chunk.text)
                break  # response released by aclosing
        assert seen
        stream2 = await client.openai.chat.completions.create(
            model=worker.peer_id, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        parts = [
            chunk.choices[0].delta.content
            async for chunk in stream2
            if chunk.choices and chunk.choices[0].delta.content
        ]
        assert parts
        # the early break above freed Poet's slot: the gateway killed its agent
        for _ in range(50):
            if (await client.workers.get(worker.peer_id)).current_tasks == 0:
                break
            await asyncio.sleep(0.1)
        assert (await client.workers.get(worker.peer_id)).current_tasks == 0


def test_webhook_fire_and_forget(start_gateway: Any) -> None:
    secret = "shared-secret-for-the-test"
    gw = start_gateway(env={"AGENTFM_WEBHOOK_SECRET": secret, "AGENTFM_WEBHOOK_ALLOW_PRIVATE": "1"})
    done: list[WebhookPayload] = []
    port = _free_port()
    with (
        AgentFMClient(gateway_url=gw.url) as client,
        WebhookReceiver(port=port, callback=done.append, secret=secret),
    ):
        worker = client.workers.list()[0]
        ack = client.tasks.submit_async(
            worker_id=worker.peer_id,
            prompt="Long-running batch job",
            webhook_url=f"http://127.0.0.1:{port}/cb",
        )
        for _ in range(300):
            if done:
                break
            time.sleep(0.1)
    assert done and done[0].task_id == ack.task_id and done[0].status == "completed"


def test_local_mesh_gateway_example() -> None:
    with LocalMeshGateway(port=0) as gw:  # the page uses 8080; tests never take a fixed port
        client = AgentFMClient(gateway_url=gw.url)
        workers = client.workers.list(model="llama3.2", wait_for_workers=1)
        assert workers
        client.close()
    with (
        AgentFMClient(gateway_url=gw.url, retries=0) as gone,
        pytest.raises(GatewayConnectionError),
    ):
        gone.workers.list()  # stopped on context exit
