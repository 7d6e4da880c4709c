"""``%ogpu`` in a real IPython shell and the ``AgentConsole`` widget, against anvil."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from ogpu_world import MASTER, World

from agentfm_nb.ogpu.agent import Agent, TaskStatus
from agentfm_nb.ogpu.console import AgentConsole
from agentfm_nb.ogpu.magic import OgpuMagics, register

pytestmark = pytest.mark.chain


@pytest.fixture
def shell() -> Iterator[tuple[InteractiveShell, OgpuMagics]]:
    ip = InteractiveShell.instance()
    magics = register(ip)
    yield ip, magics
    magics.session.close()


_CONNECT = (
    "connect --rpc {w.config.rpc_url} --chain local --nexus {w.config.nexus} "
    "--terminal {w.config.terminal} --principal {w.master} --no-prompt"
)


def _connect(ip: InteractiveShell, w: World) -> None:
    ip.run_line_magic("ogpu", _CONNECT.format(w=w))


def test_magic_flow(
    agent_env: World, shell: tuple[InteractiveShell, OgpuMagics], capsys: pytest.CaptureFixture[str]
) -> None:
    ip, magics = shell
    w = agent_env
    _connect(ip, w)
    assert magics.session.agent is not None and magics.session.agent.address == w.agent
    status = ip.run_line_magic("ogpu", "status")
    assert status["authorized_by"] == {w.master: True}
    reg = ip.run_line_magic("ogpu", f"register {w.source} {w.provider} --env cpu,nvidia")
    assert reg.event("Registered").preferred_environment == 3
    task = w.chain.publish_task(w.source)
    receipt = ip.run_line_magic("ogpu", f"attempt {task} {w.provider} 1000")
    assert receipt.ok and magics.session.agent.task_status(task) is TaskStatus.ATTEMPTED
    frame = ip.run_line_magic("ogpu", "events")
    assert {"Registered", "TaskPublished", "Attempted", "TaskStatusChanged"} <= set(frame["name"])
    assert ip.run_line_magic("ogpu", f"unregister {w.source} {w.provider}").ok
    info = ip.run_line_magic("ogpu", "nonce info")
    assert info["address"] == w.agent and info["mined_nonce"] >= 3 and not info["stalled"]
    assert ip.run_line_magic("ogpu", "nonce reset") is None
    assert ip.run_line_magic("ogpu", "nonce fix") == info["mined_nonce"]  # nothing was stuck
    out = capsys.readouterr()
    assert "connected: agent" in out.out and "attempt: mined in block" in out.out
    assert w.agent_key[2:] not in out.out + out.err


def test_magic_errors_are_one_line(
    world: World,
    shell: tuple[InteractiveShell, OgpuMagics],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Raised, so the cell fails (a headless run stops); IPython shows a UsageError as one line.
    ip, _ = shell

    def error(line: str) -> str:
        with pytest.raises(UsageError) as err:
            ip.run_line_magic("ogpu", line)
        message = str(err.value)
        assert message.count("\n") == 0 and world.agent_key[2:] not in message
        return message

    assert error("status").startswith("%ogpu status: not connected")
    monkeypatch.delenv("AGENT_PRIVATE_KEY", raising=False)
    message = error(_CONNECT.format(w=world))
    assert message.startswith("%ogpu connect:") and "AGENT_PRIVATE_KEY" in message
    monkeypatch.setenv("AGENT_PRIVATE_KEY", world.stranger_key)
    _connect(ip, world)
    task = world.chain.publish_task(world.source)
    message = error(f"attempt {task} {world.provider} 1")
    assert message.startswith("%ogpu attempt:") and "not an agent" in message
    assert "chain id mismatch" in error(_CONNECT.format(w=world) + " --chain-id 1071")


def test_console_state_form_and_feed(world: World) -> None:
    agent = Agent(world.config, world.agent_key)
    console = AgentConsole(agent, [world.master, world.provider], poll_interval=0.01)
    try:
        assert console.address == world.agent
        assert [p["authorized"] for p in console.principals] == [True, False]
        # bad input: an error line, nothing pending, nothing sent
        assert console.prepare("attempt", task="", provider=world.provider) == {}
        assert "missing task" in console.error
        held = console.prepare("register", source=world.source, provider=world.provider, env="cpu")
        assert held["gas"] > 21_000 and console.pending["id"] == held["id"]
        console.confirm(held["id"], wait=True)
        assert console.error == "" and console.txs[0]["state"] == "mined"
        assert console.txs[0]["function"] == "register"
        task = world.chain.publish_task(world.source)
        # the browser path: custom messages
        console._dispatch(
            console,
            {
                "kind": "prepare",
                "action": "attempt",
                "args": {"task": task, "provider": world.provider, "suggested_payment": "5"},
            },
            [],
        )
        console._dispatch(console, {"kind": "confirm", "id": console.pending["id"]}, [])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            e["name"] == "TaskStatusChanged" for e in console.events
        ):
            time.sleep(0.02)
        names = [e["name"] for e in console.events]
        assert "TaskStatusChanged" in names and "Attempted" in names and "TaskPublished" in names
        # revocation arrives as an AgentSet event and refreshes the authorization column
        world.chain.set_agent(MASTER, world.agent, False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and console.principals[0]["authorized"]:
            time.sleep(0.02)
        assert console.principals[0]["authorized"] is False
        assert (
            console.prepare("attempt", task=task, provider=world.provider, suggested_payment=1)
            == {}
        )
        assert "not an agent" in console.error
        state = json.dumps(console.get_state(), default=str)
        for needle in (world.agent_key, world.agent_key[2:]):
            assert needle not in state and needle not in repr(console)
        bundle = console._repr_mimebundle_()
        assert world.agent_key[2:] not in json.dumps(bundle, default=str)
    finally:
        console.close()
    assert not console.following
