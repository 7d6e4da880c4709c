"""What every agentfm_nb widget shares: background work on the client's portal loop, custom
message dispatch, a safe client/URL, and display fallbacks refreshed when work ends."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import threading
import time
import uuid
import weakref
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anywidget
import traitlets as t

from agentfm_nb.widgets import _static


def safe_url(url: str) -> str:
    """The gateway URL without credentials or query (never show a key)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_url_clients: dict[str, Any] = {}
_url_lock = threading.Lock()


def make_async_client(client: Any) -> Any:
    """The shared ``AsyncAgentFMClient`` on the portal loop for ``client``'s connection.

    httpx async connections belong to the loop that opened them, so a sync client gets its
    async twin (one per client, closed with it); ``None`` is the session default; a URL gets
    one process-wide client per URL. Every background user (chat turns, table refreshes,
    scatters) shares it, so a long session keeps one pool per connection.
    """
    from agentfm_nb.client import AgentFMClient, AsyncAgentFMClient
    from agentfm_nb.client._default import get_default_async_client

    if client is None:
        return get_default_async_client()
    if isinstance(client, AsyncAgentFMClient):
        return client
    if isinstance(client, AgentFMClient):
        return client._portal_client()
    if isinstance(client, str):
        with _url_lock:
            sync = _url_clients.get(client)
            if sync is None:
                sync = _url_clients[client] = AgentFMClient(client)
        return sync._portal_client()
    raise TypeError(
        f"client must be an AgentFMClient, AsyncAgentFMClient or URL, not {type(client).__name__}"
    )


class BaseWidget(anywidget.AnyWidget):
    """Base of the agentfm_nb widgets (not displayed on its own)."""

    _bundle = ""
    # When the kernel last stamped this state: a saved page says "snapshot of <that time>".
    _saved_at = t.Float(0.0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        # The bundle text is read per instance so a rebuilt front-end is picked up.
        kwargs.setdefault("_esm", _static.read_esm(self._bundle))
        kwargs.setdefault("_saved_at", time.time())
        super().__init__(**kwargs)
        self._display_id = f"agentfm-{uuid.uuid4().hex}"
        self._displayed = False
        self._parent: dict[str, Any] | None = None
        self._tasks: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.RLock()
        self.on_msg(self._dispatch)

    # --- background work ---------------------------------------------------------------------
    def _submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        from agentfm_nb.client._portal import portal

        fut = portal().submit(coro)
        with self._lock:
            self._tasks.add(fut)
        fut.add_done_callback(self._forget)
        return fut

    def _forget(self, fut: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._tasks.discard(fut)

    def _cancel_all(self) -> None:
        with self._lock:
            tasks = list(self._tasks)
        for fut in tasks:
            fut.cancel()  # run_coroutine_threadsafe futures cancel the task on the loop

    @staticmethod
    def _loop() -> asyncio.AbstractEventLoop:
        from agentfm_nb.client._portal import portal

        return portal().loop

    def _emit(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """A custom message to the browser (``send`` is free for subclasses: ChatWidget.send)."""
        anywidget.AnyWidget.send(self, content, buffers)

    def _stamp(self) -> None:
        """Mark the state as current now (the time a saved page's snapshot banner shows)."""
        self._saved_at = time.time()

    # --- messages from the browser -------------------------------------------------------------
    def _on_ping(self, content: dict[str, Any], buffers: list[bytes]) -> None:
        # A view asks whether a kernel is behind it (js/shared/snapshot.ts).
        self._emit({"kind": "pong"})

    def _dispatch(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            return
        handler = getattr(self, f"_on_{content.get('kind', '')}", None)
        if callable(handler):
            handler(content, buffers)

    # --- display and fallbacks ----------------------------------------------------------------
    def _fallback_text(self) -> str:
        return type(self).__name__

    def _fallback_html(self) -> str:
        return f"<pre>{html.escape(self._fallback_text())}</pre>"

    def __repr__(self) -> str:
        return self._fallback_text().splitlines()[0]

    def mimebundle(self) -> dict[str, Any]:
        """The display data: the widget view plus ``text/plain`` and ``text/html`` fallbacks."""
        data: dict[str, Any] = {
            "text/plain": self._fallback_text(),
            "text/html": self._fallback_html(),
        }
        if self._view_name is not None and self.comm is not None:
            data["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.model_id,
            }
        return data

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[Any, Any], dict[Any, Any]] | None:
        return self.mimebundle(), {}

    def _ipython_display_(self) -> None:
        # Displayed with a display_id so the fallbacks can be refreshed with the final state.
        from IPython.display import display

        self._displayed = True
        _watch_cells()
        self._parent = _current_parent()
        display(self.mimebundle(), raw=True, display_id=self._display_id)  # type: ignore[no-untyped-call]

    def refresh_display(self) -> None:
        """Re-render every display of this widget (fallbacks carry the latest state)."""
        if not self._displayed:
            return
        if threading.current_thread() is not threading.main_thread():
            # nbclient (quickstart, exports) saves only messages of the cell that is running,
            # so work that ends between cells is published again when the next cell ends.
            _pending.add(self)
        # no kernel or a closed socket: nothing to refresh
        with contextlib.suppress(Exception):
            _update_display(self.mimebundle(), self._display_id, self._parent)

    def publish(self) -> None:
        """Send the full state and refreshed fallbacks now, from the calling cell.

        Widgets do their work on a background loop; call this from a cell (``.result()`` and
        the magics' ``--wait`` do) so a notebook saved by nbclient keeps the latest state.
        From another thread this only refreshes the fallbacks; the next cell publishes.
        """
        if threading.current_thread() is not threading.main_thread():
            self.refresh_display()
            return
        _pending.discard(self)
        if self.comm is None:
            return
        with self._lock:
            self._before_publish()
            self._stamp()
            with contextlib.suppress(Exception):
                self.send_state()
        self.refresh_display()

    def _before_publish(self) -> None:
        """Bring snapshot traits up to date before ``publish`` (for subclasses)."""


# Displayed widgets whose background work changed them after their cell ended.
_pending: weakref.WeakSet[BaseWidget] = weakref.WeakSet()
_watching: set[int] = set()


def publish_pending() -> None:
    """Publish every widget that changed in the background since the last cell ended."""
    if threading.current_thread() is not threading.main_thread():
        return
    for widget in list(_pending):
        with contextlib.suppress(Exception):  # a closed widget must not break the cell hook
            widget.publish()


def _watch_cells() -> None:
    """Run ``publish_pending`` after each cell (once per shell), in the kernel's main thread."""
    from IPython.core.getipython import get_ipython

    shell = get_ipython()
    if shell is None or id(shell) in _watching:
        return
    _watching.add(id(shell))
    shell.events.register("post_run_cell", lambda _result: publish_pending())


def _current_parent() -> dict[str, Any] | None:
    try:
        from IPython.core.getipython import get_ipython

        shell = get_ipython()
        # ipykernel's publisher has a parent header; IPython's base one does not
        header = getattr(shell.display_pub, "parent_header", None) if shell is not None else None
        return dict(header) if header else None
    except Exception:
        return None


def _update_display(data: dict[str, Any], display_id: str, parent: dict[str, Any] | None) -> None:
    """``update_display_data`` tied to the cell that displayed the widget.

    Work ends on the portal thread, where the kernel's current parent header is not the cell's;
    frontends (and nbclient) route display updates by that parent, so it is sent explicitly.
    """
    from IPython.core.getipython import get_ipython
    from IPython.display import update_display

    shell = get_ipython()
    pub: Any = getattr(shell, "display_pub", None)
    session = getattr(pub, "session", None)
    if parent is None or session is None or threading.current_thread() is threading.main_thread():
        update_display(data, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]
        return
    content = {"data": data, "metadata": {}, "transient": {"display_id": display_id}}
    session.send(pub.pub_socket, "update_display_data", content, parent=parent, ident=pub.topic)


__all__ = ["BaseWidget", "make_async_client", "publish_pending", "safe_url"]
