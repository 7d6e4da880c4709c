"""``%agentfm connect``: point the session's default client at a gateway."""

from __future__ import annotations

import os
from typing import Any

from agentfm_nb.magics._commands import argument, command, fail, magic_arguments
from agentfm_nb.magics._session import api_key_from_env

DEFAULT_URL = "http://127.0.0.1:8080"

# Options people reach for when they have a key in hand; refused before parsing so the key is
# never echoed back in an "unrecognized arguments" message.
LITERAL_KEY_OPTIONS = ("--api-key", "--key", "--token", "--api_key")


def refuse_literal_key(argv: list[str], *, cmd: str) -> None:
    for arg in argv:
        name = arg.split("=", 1)[0]
        if name in LITERAL_KEY_OPTIONS:
            raise fail(
                cmd,
                "refusing a literal API key in the cell (it would be saved with the notebook); "
                "put the key in an environment variable and pass its name: "
                "--api-key-env AGENTFM_API_KEY",
            )


@command("connect", "Use the gateway at URL as this session's default client.")
@magic_arguments("agentfm connect")
@argument(
    "url",
    nargs="?",
    default=None,
    help="gateway URL (default: $AGENTFM_GATEWAY_URL, else http://127.0.0.1:8080)",
)
@argument(
    "--api-key-env",
    metavar="VAR",
    default=None,
    help="NAME of the environment variable holding the API key (never the key itself); "
    "default: AGENTFM_API_KEY when set",
)
def connect(shell: Any, args: Any, cell: str | None) -> None:
    """Set the session's default AgentFM client (checked with one authenticated request)."""
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.client._default import set_default_client

    url = (args.url or os.environ.get("AGENTFM_GATEWAY_URL") or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise fail("connect", f"the gateway URL must start with http:// or https://, got {url!r}")
    if args.api_key_env is not None:
        api_key: str | None = api_key_from_env(args.api_key_env, cmd="connect")
    else:
        api_key = os.environ.get("AGENTFM_API_KEY") or None
    client = AgentFMClient(gateway_url=url, api_key=api_key)
    # /health is never authenticated, so list workers: a bad key fails here, not later.
    workers = client.workers.list()
    set_default_client(client)
    online = sum(1 for w in workers if getattr(w, "online", True))
    auth = "with an API key" if api_key else "without an API key"
    print(f"Connected to {url} ({auth}): {online} worker(s) online.")
