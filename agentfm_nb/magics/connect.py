"""``%agentfm connect``: point the session's default client at a gateway."""

from __future__ import annotations

import os
from typing import Any

import httpx

from agentfm_nb.magics._commands import argument, command, fail
from agentfm_nb.magics._secrets import MIN_SECRET, looks_secret, secret_pieces
from agentfm_nb.magics._session import api_key_from_env, artifacts_option, default_artifacts_dir

DEFAULT_URL = "http://127.0.0.1:8080"


def check_url(url: str) -> httpx.URL:
    """A gateway URL people can trust to mean what they typed, or one line saying why not."""
    if "://" not in url and looks_secret(url):
        raise fail(
            "connect",
            "that looks like an API key, not a gateway URL (not shown); put the key in an "
            "environment variable and pass its name: --api-key-env AGENTFM_API_KEY",
        )
    if not url.startswith(("http://", "https://")):
        # Echo what looks like an address (localhost:8080); a long bare word may be a key.
        hostlike = len(url) < MIN_SECRET or any(c in url for c in ":./")
        got = repr(url) if hostlike else "a value not shown in case it is a key"
        raise fail("connect", f"the gateway URL must start with http:// or https://, got {got}")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise fail("connect", f"not a valid URL: {url!r} ({exc})") from None
    if not parsed.host:
        raise fail("connect", f"the gateway URL has no host: {url!r}")
    if parsed.userinfo or secret_pieces([url]):
        raise fail(
            "connect",
            "refusing credentials in the URL (it would be saved with the notebook and shown in "
            "outputs); pass the key's variable name: --api-key-env AGENTFM_API_KEY",
        )
    return parsed


@command("connect", "Use the gateway at URL as this session's default client.")
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
@argument(
    "--artifacts-dir",
    metavar="DIR",
    default=None,
    help="where the gateway writes <task_id>.zip files, extracted per task ('none': do not "
    "collect); default: the session gateway's folder, else ./agentfm_artifacts when it exists "
    "and the gateway is on this machine",
)
def connect(shell: Any, args: Any, cell: str | None) -> None:
    """Set the session's default AgentFM client (checked with one authenticated request)."""
    from agentfm_nb.client import AgentFMClient
    from agentfm_nb.client._default import set_default_client

    url = (args.url or os.environ.get("AGENTFM_GATEWAY_URL") or DEFAULT_URL).rstrip("/")
    check_url(url)
    if args.api_key_env is not None:
        api_key: str | None = api_key_from_env(args.api_key_env, cmd="connect")
    else:
        api_key = os.environ.get("AGENTFM_API_KEY") or None
    if args.artifacts_dir is not None:
        artifacts = artifacts_option(args.artifacts_dir)
    else:
        artifacts = default_artifacts_dir(url)
    client = AgentFMClient(gateway_url=url, api_key=api_key, artifacts_dir=artifacts)
    try:
        # /health is never authenticated, so list workers: a bad key fails here, not later.
        workers = client.workers.list()
    except BaseException:
        client.close()
        raise
    set_default_client(client)
    online = sum(1 for w in workers if getattr(w, "online", True))
    auth = "with an API key" if api_key else "without an API key"
    print(f"Connected to {url} ({auth}): {online} worker(s) online.")
    if artifacts:
        print(f"Files agents write are extracted under {artifacts}.")
    else:
        print("Files agents write are not collected (say where with --artifacts-dir DIR).")
