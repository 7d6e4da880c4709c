"""``AgentConsole`` rendered: its real state (from anvil) through the built ESM in headless
Chromium, and the form's custom messages fed back to the Python widget.

The page is the kernel-less widget harness (a small fake anywidget model), so what is checked
here is the front end painting what the Python class really produces, plus the round trip
Review → ``prepare`` → Confirm → ``confirm`` → mined transaction → repainted row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ogpu_world import World

from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.console import _BUNDLE, AgentConsole
from tests._chromium import CHROMIUM

pytestmark = [
    pytest.mark.chain,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    pytest.mark.skipif(not _BUNDLE.is_file(), reason="front end not built (agent_console.js)"),
]

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "ogpu"
WID = "ac"


def _until(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _state(console: AgentConsole) -> dict[str, Any]:
    """The synced state as the front end would receive it (JSON)."""
    result: dict[str, Any] = json.loads(json.dumps(console.get_state(), default=str))
    return result


def _push(page: Any, console: AgentConsole, *keys: str) -> None:
    state = _state(console)
    for key in keys:
        page.evaluate("([id, k, v]) => window.setState(id, k, v)", [WID, key, state[key]])


def _rows(page: Any, selector: str) -> list[str]:
    texts: list[str] = page.eval_on_selector_all(
        f"#{WID} {selector} tr", "rows => rows.slice(1).map(r => r.innerText)"
    )
    return texts


def _sent(page: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = page.evaluate("window.sent")
    return sent


def test_console_renders_real_state_and_round_trips_the_form(world: World) -> None:
    from tests.widgets._widget_harness import harness_page, mount

    w = world
    agent = Agent(w.config, w.agent_key)
    console = AgentConsole(agent, [w.master, w.provider], poll_interval=0.01)
    try:
        held = console.prepare("register", source=w.source, provider=w.provider, env="cpu")
        console.confirm(held["id"], wait=True)
        task = w.chain.publish_task(w.source)
        held = console.prepare("attempt", task=task, provider=w.provider, suggested_payment=5)
        console.confirm(held["id"], wait=True)
        assert console.error == ""
        _until(
            "the attempt in the feed",
            lambda: {"Registered", "Attempted"} <= {e["name"] for e in console.events},
        )
        state = _state(console)
        blob = json.dumps(state)
        for needle in (w.agent_key, w.agent_key.removeprefix("0x")):
            assert needle not in blob

        with harness_page() as page:
            mount(page, WID, "agent_console", state)
            page.wait_for_selector(f"#{WID} .afm-ac-addr")
            assert page.inner_text(f"#{WID} .afm-ac-addr") == w.agent
            assert page.evaluate("window.errors") == []

            # authorization: the master authorized this agent, the provider did not
            auth = _rows(page, ".afm-ac > div:nth-child(3)")
            assert [r.split("\t") for r in auth] == [[w.master, "yes"], [w.provider, "no"]]

            feed = _rows(page, ".afm-ac-feed")
            assert len(feed) == len(state["events"]) >= 2
            feed_names = {r.split("\t")[1] for r in feed}
            assert {"Registered", "Attempted"} <= feed_names

            txs = _rows(page, ".afm-ac > div:last-child")
            assert [r.split("\t")[0] for r in txs] == ["attempt", "register"]
            for row, tx in zip(txs, state["txs"], strict=True):
                cells = row.split("\t")
                assert cells[1] == f"{tx['tx_hash'][:8]}…{tx['tx_hash'][-4:]}"
                assert cells[2:4] == [str(tx["nonce"]), "mined"]

            # the form: Review sends a prepare message the real console acts on
            page.select_option(f"#{WID} select", "unregister")
            page.fill(f"#{WID} input[placeholder=source]", w.source)
            page.fill(f"#{WID} input[placeholder=provider]", w.provider)
            page.click(f"#{WID} button:text('Review')")
            prepare = _sent(page)[-1]
            assert prepare == {
                "id": WID,
                "content": {
                    "kind": "prepare",
                    "action": "unregister",
                    "args": {"source": w.source, "provider": w.provider},
                },
            }
            console._dispatch(console, prepare["content"], [])
            assert console.error == "" and console.pending["action"] == "unregister"
            _push(page, console, "pending", "error")
            confirm_button = f"#{WID} button:text('Confirm & send')"
            page.wait_for_selector(confirm_button)
            assert "unregister(" in page.inner_text(f"#{WID} .afm-banner.info")

            page.click(confirm_button)
            confirm = _sent(page)[-1]
            assert confirm == {
                "id": WID,
                "content": {"kind": "confirm", "id": console.pending["id"]},
            }
            console._dispatch(console, confirm["content"], [])
            _until(
                "the unregister to be mined",
                lambda: (
                    bool(console.txs)
                    and console.txs[0]["function"] == "unregister"
                    and console.txs[0]["state"] == "mined"
                ),
            )
            _push(page, console, "pending", "txs", "events", "error")
            assert page.is_hidden(confirm_button)
            assert _rows(page, ".afm-ac > div:last-child")[0].split("\t")[0] == "unregister"
            after = _rows(page, ".afm-ac > div:last-child")
            assert [r.split("\t")[3] for r in after] == ["mined"] * 3

            html = page.content()
            for needle in (w.agent_key, w.agent_key.removeprefix("0x")):
                assert needle not in html
                assert needle not in json.dumps(_state(console))
            OUTPUT.mkdir(parents=True, exist_ok=True)
            page.locator(f"#{WID}").screenshot(path=str(OUTPUT / "agent_console.png"))
    finally:
        console.close()
