"""A stand-in for the ``agentfm`` Go binary, copied onto PATH by the launcher tests.

It records its argv (and every Authorization header /health sees) as JSON lines in
``$STANDIN_RECORD`` and behaves as ``$STANDIN_MODE`` says: ``serve`` (answer /health),
``exit3`` (print a message and exit 3), ``mute`` (run but never answer /health).
"""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORD = os.environ.get("STANDIN_RECORD", "")
MODE = os.environ.get("STANDIN_MODE", "serve")


def record(entry):
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        record({"path": self.path, "auth": self.headers.get("Authorization")})
        body = json.dumps({"status": "ok", "online_workers": 0}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("stand-in:", format % args, flush=True)


def main():
    record({"argv": sys.argv[1:], "api_keys": os.environ.get("AGENTFM_API_KEYS")})
    print("stand-in agentfm starting", flush=True)
    if MODE == "exit3":
        print("fatal: stand-in told to fail", flush=True)
        sys.exit(3)
    if MODE == "mute":
        while True:
            time.sleep(1)
    port = int(sys.argv[sys.argv.index("-apiport") + 1])
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
