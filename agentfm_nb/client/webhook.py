"""``WebhookReceiver``: a small HTTP server for the gateway's signed completion callbacks.

Built on the standard library's ``ThreadingHTTPServer`` in a daemon thread: a callback body is a
few hundred bytes of JSON, so a full ASGI stack (uvicorn, its loop, its lifespan) would add
start-up time and a dependency surface for nothing; the stdlib server is well kept, starts in
milliseconds, binds port 0 and shuts down deterministically.

Checks, in the SDK's order: path (404), Content-Length present (411), a number (400) and at
most 64 KiB (413; chunked bodies are refused), a Content-Type other than ``application/json``
(415; none at all is accepted), HMAC-SHA256 of the raw body in constant time when a secret is
set (401, the callback is never called), then a JSON object with ``task_id``, ``worker_id`` and
``status`` (400). A good callback is answered 200, or 500 when the user's callback raised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentfm_nb.client.models import PeerID

log = logging.getLogger("agentfm_nb.client.webhook")

MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_BODY_BYTES = MAX_BODY_BYTES  # the SDK's name
SIGNATURE_HEADER = "X-AgentFM-Signature"


class WebhookPayload(BaseModel):
    """What the gateway POSTs when an async task finishes; unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    worker_id: PeerID
    status: str

    @property
    def extra(self) -> dict[str, Any]:
        """The fields beyond ``task_id``, ``worker_id`` and ``status``."""
        return dict(self.model_extra or {})

    @classmethod
    def from_wire(cls, body: Any) -> WebhookPayload:
        """``model_validate``; a body that does not fit raises ``ValueError``."""
        return cls.model_validate(body)  # pydantic's ValidationError is a ValueError


def sign(secret: str | bytes, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` (what the gateway sends in ``X-AgentFM-Signature``)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    given = header.strip()
    if given.lower().startswith("sha256="):
        given = given[7:]
    expected = sign(secret, body).encode()
    return hmac.compare_digest(expected, given.lower().encode("ascii", "replace"))


WebhookCallback = Callable[[WebhookPayload], None]


class WebhookReceiver:
    """Receive completion callbacks on ``http://host:port/path`` and hand them to ``callback``.

    ``port=0`` picks a free port (read ``.port`` / ``.url``). With ``secret`` set, unsigned or
    wrongly signed requests get 401 and never reach the callback.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        callback: WebhookCallback,
        secret: str | None = None,
        host: str = "127.0.0.1",
        path: str = "/cb",
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._callback = callback
        self._secret = secret.encode() if secret else None
        self.host = host
        self.path = path if path.startswith("/") else f"/{path}"
        self.max_body_bytes = max_body_bytes
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.received = 0
        self.rejected = 0

    def __repr__(self) -> str:
        signed = "on" if self._secret else "off"
        return f"WebhookReceiver(url={self.url!r}, signature_check={signed!r})"

    @property
    def callback(self) -> Callable[[WebhookPayload], None]:
        return self._callback

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _bind(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((self.host, self._requested_port), self._handler_class())
        server.daemon_threads = True
        return server

    def start(self) -> None:
        """Serve in a background daemon thread (also what ``with`` does)."""
        if self._server is not None:
            return
        server = self._bind()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="agentfm-webhook", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    close = stop

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C (or ``stop()`` from another thread)."""
        if self._server is not None:
            raise RuntimeError("WebhookReceiver is already serving; call stop() first")
        server = self._bind()
        self._server = server
        log.info("webhook receiver listening on %s", self.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            log.info("webhook receiver stopped by Ctrl-C")
        finally:
            if self._server is server:  # not already closed by stop()
                self._server = None
                server.server_close()

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- request handling --------------------------------------------------------------------

    def _handle(self, path: str, headers: Any, read: Callable[[int], bytes]) -> int:
        """Returns the HTTP status; the callback runs only for a valid, verified body."""
        if path.split("?", 1)[0] != self.path:
            return HTTPStatus.NOT_FOUND
        raw_len = headers.get("Content-Length")
        if raw_len is None or headers.get("Transfer-Encoding"):
            return HTTPStatus.LENGTH_REQUIRED
        try:
            length = int(raw_len)
        except ValueError:
            return HTTPStatus.BAD_REQUEST
        if length < 0:
            return HTTPStatus.BAD_REQUEST
        if length > self.max_body_bytes:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        ctype = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype and ctype != "application/json":
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        body = read(length)
        if self._secret is not None and not verify(
            self._secret, body, headers.get(SIGNATURE_HEADER)
        ):
            return HTTPStatus.UNAUTHORIZED
        try:
            payload = WebhookPayload.from_wire(json.loads(body))
        except ValueError:
            return HTTPStatus.BAD_REQUEST
        try:
            self._callback(payload)
        except Exception:  # a user callback bug must not kill the server thread
            log.exception("webhook callback failed for task %s", payload.task_id)
            return HTTPStatus.INTERNAL_SERVER_ERROR
        return HTTPStatus.OK

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "agentfm-nb-webhook"
            sys_version = ""

            def do_POST(self) -> None:
                status = receiver._handle(self.path, self.headers, self.rfile.read)
                if status in (HTTPStatus.OK, HTTPStatus.NO_CONTENT):
                    receiver.received += 1
                else:
                    receiver.rejected += 1
                    # The unread rest of an oversized body would be parsed as the next request.
                    self.close_connection = True
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
                self.send_header("Allow", "POST")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webhook: " + format, *args)

        return Handler


__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "WebhookCallback",
    "WebhookPayload",
    "WebhookReceiver",
    "sign",
    "verify",
]
