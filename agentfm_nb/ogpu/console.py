"""``AgentConsole``: the agent's address, its authorizations, a live event feed, its own
transactions, and a register / attempt / unregister form with a confirmation step.

The widget only ever holds the agent's address: the signer stays inside ``Agent``.
"""

from __future__ import annotations

import html
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from agentfm_nb.ogpu.agent import Agent
from agentfm_nb.ogpu.errors import OGPUError
from agentfm_nb.ogpu.events import ChainEvent, EventFeed, Follower, event_to_dict
from agentfm_nb.ogpu.tx import TxRecord

# Same location as ``agentfm_nb.widgets._static.esm`` (F1's esbuild output); resolved here so
# the console does not import the whole AgentFM widget package.
_BUNDLE = Path(__file__).resolve().parent.parent / "static" / "agent_console.js"
# Used only when the front-end was not built: shows the text fallback instead of nothing.
_FALLBACK_ESM = """
function render({ model, el }) {
  const pre = document.createElement("pre");
  const paint = () => { pre.textContent = model.get("fallback_text"); };
  model.on("change:fallback_text", paint); paint(); el.append(pre);
}
export default { render };
"""


def _esm() -> str:
    try:
        return _BUNDLE.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _FALLBACK_ESM


_ACTIONS = {
    "register": ("source", "provider", "env"),
    "attempt": ("task", "provider", "suggested_payment"),
    "unregister": ("source", "provider"),
}


def _state_text(record: TxRecord) -> str:
    """What happened at this nonce, in words: a stall, a fee-bumped re-send or a replacement
    by another transaction shows as such, not as a plain pending/failed row."""
    if record.state == "resent":
        return f"stalled, re-sent ×{record.resends} with higher fees"
    if record.state == "stalled":
        return "stalled (known to the node, not mined)"
    if record.state == "replaced":
        return "replaced (another transaction took the nonce)"
    if record.state == "mined" and record.resends:
        return f"mined after {record.resends} re-send(s)"
    return record.state


def _tx_dict(record: TxRecord) -> dict[str, Any]:
    return {
        "id": record.rid,
        "function": record.function,
        "tx_hash": record.tx_hash,
        "hashes": list(record.hashes),
        "nonce": record.nonce,
        "state": _state_text(record),
        "resends": record.resends,
        "block_number": record.block_number,
        "gas_used": record.gas_used,
        "error": record.error,
        "args": {k: str(v) for k, v in record.args.items()},
    }


class AgentConsole(anywidget.AnyWidget):
    """Console for one ``Agent``; ``principals`` are the masters/clients to check
    ``isAgentOf`` against."""

    address = traitlets.Unicode("").tag(sync=True)
    chain = traitlets.Dict().tag(sync=True)
    principals: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    events: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    txs: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    pending = traitlets.Dict().tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    following = traitlets.Bool(False).tag(sync=True)
    fallback_text = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        agent: Agent,
        principals: Sequence[str] = (),
        *,
        follow: bool = True,
        max_events: int = 200,
        poll_interval: float = 0.1,
    ) -> None:
        super().__init__(_esm=_esm())
        self.on_msg(self._dispatch)
        self.agent = agent
        self.max_events = max_events
        self._principals = list(principals)
        self._state_lock = threading.Lock()
        self._follower: Follower | None = None
        self._poll = poll_interval
        self.last_event_at: float | None = None
        self.address = agent.address
        self.chain = {
            "name": agent.chain.name,
            "chain_id": agent.chain.chain_id,
            "rpc_url": agent.chain.display_url,
            "nexus": agent.chain.nexus,
            "terminal": agent.chain.terminal,
        }
        agent.add_listener(self._on_tx)
        self.txs = [_tx_dict(r) for r in agent.recent]
        self.refresh()
        if follow:
            self.follow()

    # -- state ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read ``isAgentOf(principal, agent)`` for every configured principal."""
        rows = []
        for principal in self._principals:
            try:
                rows.append(
                    {
                        "address": principal,
                        "authorized": self.agent.is_agent_of(principal, self.address),
                    }
                )
            except OGPUError as exc:
                rows.append({"address": principal, "authorized": None, "error": exc.message})
        self.principals = rows

    def follow(self) -> None:
        if self._follower is not None and self._follower.running:
            return
        self._follower = EventFeed(self.agent.conn).start(
            self._on_event, on_error=self._on_follow_error, poll_interval=self._poll
        )
        self.following = True

    def stop(self) -> None:
        """Stop following the chain (the form keeps working)."""
        follower = getattr(self, "_follower", None)  # close() may run from a failed __init__
        if follower is not None:
            follower.stop()
        self.following = False

    def _on_event(self, ev: ChainEvent) -> None:
        self.last_event_at = time.monotonic()
        with self._state_lock:
            self.events = [event_to_dict(ev), *self.events][: self.max_events]
        if ev.name == "AgentSet" and getattr(ev, "agent", "").lower() == self.address.lower():
            self.refresh()

    def _on_follow_error(self, exc: BaseException) -> None:
        self.following = False
        self.error = exc.message if isinstance(exc, OGPUError) else f"{type(exc).__name__}: {exc}"

    def _on_tx(self, record: TxRecord) -> None:
        row = _tx_dict(record)
        with self._state_lock:
            # one row per sent call: a re-send changes the hash, not the row
            rest = [t for t in self.txs if t.get("id") != record.rid]
            self.txs = [row, *rest][:50]

    # -- the form: prepare (simulate) → confirm (send) -------------------------------------------
    def prepare(self, action: str, **args: Any) -> dict[str, Any]:
        """Simulate an action and hold it for confirmation; errors land in ``error``."""
        self.error = ""
        if action not in _ACTIONS:
            self.error = f"unknown action {action!r}"
            return {}
        missing = [k for k in _ACTIONS[action] if args.get(k) in (None, "")]
        if missing:
            self.error = f"{action}: missing {', '.join(missing)}"
            return {}
        clean = {k: args[k] for k in _ACTIONS[action]}
        try:
            gas = self.agent.preview(action, **clean)
        except (OGPUError, ValueError) as exc:
            self.error = exc.message if isinstance(exc, OGPUError) else str(exc)
            self.pending = {}
            return {}
        summary = f"{action}(" + ", ".join(f"{k}={v}" for k, v in clean.items()) + ")"
        self.pending = {
            "id": uuid.uuid4().hex,
            "action": action,
            "args": {k: str(v) for k, v in clean.items()},
            "gas": gas,
            "summary": f"{summary} · simulated OK, ~{gas} gas",
        }
        return dict(self.pending)

    def confirm(
        self, pending_id: str | None = None, *, wait: bool = False
    ) -> threading.Thread | None:
        """Send the prepared action in the background (``wait=True`` blocks until mined)."""
        held = dict(self.pending)
        if not held or (pending_id is not None and held.get("id") != pending_id):
            self.error = "nothing to confirm (prepare again)"
            return None
        self.pending = {}
        thread = threading.Thread(target=self._send_held, args=(held,), daemon=True)
        thread.start()
        if wait:
            thread.join()
        return thread

    def cancel(self) -> None:
        self.pending = {}

    def _send_held(self, held: dict[str, Any]) -> None:
        try:
            self.agent.submit(held["action"], **held["args"]).wait(self.agent.timeout)
        except OGPUError as exc:
            self.error = exc.message
        except Exception as exc:  # keep the kernel thread alive, show one line
            self.error = f"{type(exc).__name__}: {exc}"

    # -- browser messages ----------------------------------------------------------------------
    def _dispatch(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        if isinstance(content, dict):
            handler = getattr(self, f"_on_{content.get('kind', '')}", None)
            if callable(handler):
                handler(content, buffers)

    def _on_prepare(self, content: dict[str, Any], _buffers: list[bytes]) -> None:
        self.prepare(str(content.get("action", "")), **dict(content.get("args") or {}))

    def _on_confirm(self, content: dict[str, Any], _buffers: list[bytes]) -> None:
        self.confirm(content.get("id"))

    def _on_cancel(self, _content: dict[str, Any], _buffers: list[bytes]) -> None:
        self.cancel()

    def _on_refresh(self, _content: dict[str, Any], _buffers: list[bytes]) -> None:
        self.refresh()

    # -- fallbacks -----------------------------------------------------------------------------
    def _fallback_text(self) -> str:
        auth = ", ".join(
            f"{p['address']}: {'yes' if p.get('authorized') else 'no'}" for p in self.principals
        )
        lines = [
            f"AgentConsole {self.address} on {self.chain.get('name')} "
            f"(chain {self.chain.get('chain_id')}) · {'following' if self.following else 'idle'}",
            f"authorized by: {auth or '(no principals configured)'}",
            f"events: {len(self.events)} · transactions: {len(self.txs)}",
        ]
        lines += [
            f"  {t['function']} {t['tx_hash'][:12]}… nonce {t['nonce']} {t['state']}"
            for t in self.txs[:5]
        ]
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)

    @traitlets.observe("principals", "events", "txs", "error", "following")
    def _update_fallback(self, _change: Any) -> None:
        self.fallback_text = self._fallback_text()

    def __repr__(self) -> str:
        return self._fallback_text().splitlines()[0]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = super()._repr_mimebundle_(**kwargs)
        bundle = data[0] if isinstance(data, tuple) else data
        if isinstance(bundle, dict):
            bundle["text/plain"] = self._fallback_text()
            bundle["text/html"] = f"<pre>{html.escape(self._fallback_text())}</pre>"
        return data

    def close(self) -> None:
        self.stop()
        super().close()
