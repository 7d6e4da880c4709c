"""``ChatWidget``: stream answers from one mesh agent into a chat (``js/widgets/chat.ts``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import traitlets as t

from agentfm_nb.client._inband import agent_failure
from agentfm_nb.client._shared import match_model, pick_least_loaded
from agentfm_nb.errors import AgentFMError, MeshOverloadedError, ModelNotFoundError
from agentfm_nb.widgets._base import BaseWidget, make_async_client
from agentfm_nb.widgets.artifacts import artifact_cards, read_artifact
from agentfm_nb.wire import FILES_INCOMING

_CHUNK_FLUSH_S = 0.05  # stream text to the browser in ~20 batches a second, whatever the line rate


class ChatTurn:
    """One prompt/answer exchange running in the background."""

    def __init__(self, widget: ChatWidget, index: int) -> None:
        self._widget = widget
        self.index = index
        self._future: concurrent.futures.Future[Any] | None = None
        self._finished = threading.Event()  # set once the history holds the final message

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until the answer is complete (or stopped); the assistant message."""
        if self._future is not None:
            with contextlib.suppress(concurrent.futures.CancelledError):
                self._future.result(timeout)
        self._finished.wait(timeout)
        self._widget.publish()
        return self._widget._message(self.index)

    def done(self) -> bool:
        return self._finished.is_set()

    def cancel(self) -> None:
        if self._future is not None:
            self._future.cancel()

    @property
    def text(self) -> str:
        return str(
            self._widget._live_text.get(self.index, self._widget.history[self.index]["content"])
        )

    def __repr__(self) -> str:
        state = "done" if self.done() else "streaming"
        return f"ChatTurn(index={self.index}, {state}, {len(self.text)} chars)"


class ChatWidget(BaseWidget):
    """A chat with a mesh agent: ``.send(prompt)``, ``.stop()``, ``.retry()``, ``.history``."""

    _bundle = "chat"

    history = t.List(t.Dict()).tag(sync=True)
    status = t.Dict().tag(sync=True)

    def __init__(
        self,
        client: Any = None,
        *,
        peer_id: str | None = None,
        model: str | None = None,
        context: bool = False,
    ) -> None:
        super().__init__()
        self._client = client
        self._peer_id = peer_id
        self._model_filter = model
        self._context = context
        self._live_text: dict[int, str] = {}
        self._turn: ChatTurn | None = None
        # turn -> files the agent wrote (paths stay in the kernel; the browser gets cards)
        self._files: dict[int, tuple[Path, list[Path]]] = {}
        self._names: dict[str, str] = {}  # peer id -> agent name
        self.stats = {"messages": 0, "chunks": 0}
        self.status = {"state": "idle", "peer_id": peer_id, "model": model, "error": None}

    # --- public -------------------------------------------------------------------------------
    def send(self, prompt: str) -> ChatTurn:
        """Ask the agent; returns at once, the answer streams into the widget."""
        if self._turn is not None and not self._turn.done():
            raise RuntimeError("a turn is still streaming: stop() it or wait for .result()")
        prompt = str(prompt)
        if not prompt.strip():
            raise ValueError("empty prompt")
        user = {"role": "user", "content": prompt}
        answer: dict[str, Any] = {
            "role": "assistant",
            "content": "",
            "peer_id": None,
            "duration_s": None,
            "artifacts": [],
            "status": "streaming",
            "error": None,
            "task_id": f"chat-{uuid.uuid4().hex[:16]}",
        }
        with self._lock:
            self.history = [*self.history, user, answer]
            index = len(self.history) - 1
        self.status = {**self.status, "state": "streaming", "error": None}
        turn = ChatTurn(self, index)
        self._turn = turn
        turn._future = self._submit(self._stream(turn, prompt))
        return turn

    def stop(self) -> None:
        """Cancel the streaming turn: the stream is closed, so the gateway stops the agent."""
        if self._turn is not None:
            self._turn.cancel()

    def retry(self) -> ChatTurn:
        """Send the last user prompt again."""
        for m in reversed(self.history):
            if m["role"] == "user":
                return self.send(m["content"])
        raise RuntimeError("nothing to retry")

    @property
    def history_df(self) -> Any:
        import pandas as pd

        cols = [
            "role",
            "content",
            "peer_id",
            "duration_s",
            "status",
            "error",
            "task_id",
            "artifacts",
        ]
        return pd.DataFrame.from_records(
            [{k: self._message(i).get(k) for k in cols} for i in range(len(self.history))],
            columns=cols,
        )

    def _message(self, index: int) -> dict[str, Any]:
        """A history entry as Python callers see it: ``artifacts`` are the files' paths."""
        msg = dict(self.history[index])
        if msg.get("role") == "assistant":
            msg["artifacts"] = [str(p) for p in self._files.get(index, (None, []))[1]]
        return msg

    # --- background ---------------------------------------------------------------------------
    def _prompt_for(self, index: int, prompt: str) -> str:
        if not self._context or index < 2:
            return prompt
        lines = [
            f"{m['role']}: {m['content']}\n\n" for m in self.history[: index - 1] if m["content"]
        ]
        return "".join(lines) + f"user: {prompt}\n\nassistant:"

    async def _pick_peer(self, client: Any) -> str:
        if self._peer_id:
            return self._peer_id
        model = self._model_filter
        matches = match_model(await client.workers.list(), model)
        what = f"model {model!r}" if model else "the mesh"
        if not matches:
            raise ModelNotFoundError(
                f"no online worker serves {what} (peer id, agent name or engine)",
                code="model_not_found",
            )
        self._names.update({str(w.peer_id): str(w.name) for w in matches})
        best = pick_least_loaded(matches)
        if best is None:
            raise MeshOverloadedError(
                f"every worker for {what} is at capacity", code="mesh_overloaded"
            )
        return str(best.peer_id)

    async def _stream(self, turn: ChatTurn, prompt: str) -> None:
        index = turn.index
        started = time.monotonic()
        msg = dict(self.history[index])
        text: list[str] = []
        pending: list[str] = []
        self._live_text[index] = ""
        files_incoming = False

        def flush() -> None:
            if pending:
                chunk = "".join(pending)
                pending.clear()
                self._live_text[index] = "".join(text)
                self._emit({"kind": "chunk", "turn": index, "text": chunk})
                self.stats["messages"] += 1

        async def ticker() -> None:
            while True:
                await asyncio.sleep(_CHUNK_FLUSH_S)
                flush()

        tick = asyncio.create_task(ticker())
        try:
            client = make_async_client(self._client)
            peer = await self._pick_peer(client)
            msg["peer_id"] = peer
            msg["agent"] = self._names.get(peer)
            self.status = {**self.status, "peer_id": peer, "agent": msg["agent"]}
            stream = client.tasks.stream(
                worker_id=peer, prompt=self._prompt_for(index, prompt), task_id=msg["task_id"]
            )
            async with contextlib.aclosing(stream) as chunks:
                async for chunk in chunks:
                    if chunk.kind == "text":
                        text.append(chunk.text)
                        pending.append(chunk.text)
                        self.stats["chunks"] += 1
                    elif chunk.kind == "marker" or chunk.text.strip() == FILES_INCOMING:
                        files_incoming = True  # the client announces the zip as a marker
            if files_incoming and client.artifacts_dir is not None:
                from agentfm_nb.client.artifacts import aharvest

                base = Path(client.artifacts_dir)
                paths = [p for p in await aharvest(base, msg["task_id"], 30.0) if p.is_file()]
                self._files[index] = (base / msg["task_id"], paths)
                msg["artifacts"] = artifact_cards(paths, root=base / msg["task_id"])
            # A failed agent's stream ends with an error line: the turn failed, say so.
            failed = agent_failure("".join(text))
            if failed is not None:
                msg["status"], msg["error"] = "error", failed
            else:
                msg["status"] = "ok"
        except asyncio.CancelledError:
            msg["status"] = "cancelled"
            raise
        except AgentFMError as exc:
            msg["status"], msg["error"] = "error", exc.message
        finally:
            tick.cancel()
            flush()
            msg["content"] = "".join(text)
            msg["duration_s"] = round(time.monotonic() - started, 3)
            with self._lock:
                hist = list(self.history)
                hist[index] = msg
                self.history = hist
            self._live_text.pop(index, None)
            self._stamp()
            state = {"ok": "idle", "cancelled": "stopped"}.get(msg["status"], "error")
            self.status = {**self.status, "state": state, "error": msg["error"]}
            turn._finished.set()
            self.refresh_display()

    # --- messages -----------------------------------------------------------------------------
    def _on_send(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            self.send(str(content.get("prompt", "")))

    def _on_stop(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        self.stop()

    def _on_retry(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        with contextlib.suppress(RuntimeError, ValueError):
            self.retry()

    def _on_artifact(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        # Only a file this widget's turns extracted can be read (keys are relative names).
        key = str(content.get("key", ""))
        wanted = content.get("turn")
        for index, (root, paths) in list(self._files.items()):
            if wanted is not None and wanted != index:
                continue
            found = read_artifact(paths, key, root=root)
            if found is not None:
                self._emit(found[0], [found[1]])
                return

    # --- fallbacks ----------------------------------------------------------------------------
    def _fallback_text(self) -> str:
        lines = [f"ChatWidget ({len(self.history)} messages, {self.status.get('state', 'idle')})"]
        for m in self.history:
            lines.append(f"{m['role']}: {m['content']}")
            if m.get("error"):
                lines.append(f"(failed: {m['error']})")
            if m.get("artifacts"):
                lines.append("files: " + ", ".join(str(a.get("name")) for a in m["artifacts"]))
        return "\n".join(lines)

    def _fallback_html(self) -> str:
        parts = []
        for m in self.history:
            meta = ""
            if m["role"] == "assistant" and m.get("peer_id"):
                info = f"peer {m['peer_id']} · {m.get('duration_s')}s · {m.get('status')}"
                meta = f"<div><small>{html.escape(info)}</small></div>"
            parts.append(
                f"<div><b>{html.escape(m['role'])}</b><pre style='white-space:pre-wrap'>"
                f"{html.escape(str(m['content']))}</pre>{meta}</div>"
            )
        return "<div>" + "".join(parts) + "</div>"


__all__ = ["ChatTurn", "ChatWidget"]
