"""``agentfm-nb ping | workers | models | chat``: the client from a shell.

Every subcommand takes ``--gateway`` (default ``AGENTFM_GATEWAY_URL`` or the local default);
the key comes from ``AGENTFM_API_KEY`` only, so it never shows in a process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from agentfm_nb.client._shared import DEFAULT_GATEWAY


def _gateway_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gateway",
        default=None,
        metavar="URL",
        help=f"gateway URL (default: $AGENTFM_GATEWAY_URL or {DEFAULT_GATEWAY})",
    )


def _client(args: argparse.Namespace) -> Any:
    from agentfm_nb.client import AgentFMClient

    url = args.gateway or os.environ.get("AGENTFM_GATEWAY_URL") or DEFAULT_GATEWAY
    return AgentFMClient(url, retries=0)


def _ping(args: argparse.Namespace) -> int:
    with _client(args) as client:
        health = client.health()
        workers = client.workers.fetch()  # also checks the key
    online = health.get("online_workers", sum(1 for w in workers if w.online))
    print(f"ok {client.gateway_url} ({online} workers online)")
    return 0


def _workers(args: argparse.Namespace) -> int:
    with _client(args) as client:
        workers = client.workers.list(model=args.model, available_only=args.available)
    rows = [
        (w.peer_id, w.name, w.model, w.status, f"{w.current_tasks}/{w.max_tasks}", w.author)
        for w in workers
    ]
    _table(("PEER ID", "NAME", "ENGINE", "STATUS", "LOAD", "AUTHOR"), rows)
    return 0


def _models(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = client.openai.models.list()
    rows = [(m.id, m.owned_by, m.description or "") for m in models]  # description may be null
    _table(("ID", "OWNED BY", "DESCRIPTION"), rows)
    return 0


def _chat(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.stream:
            for chunk in client.tasks.stream(worker_id=args.peer, prompt=args.prompt):
                if chunk.kind == "text":
                    sys.stdout.write(chunk.text)
                    sys.stdout.flush()
        else:
            sys.stdout.write(client.tasks.run(worker_id=args.peer, prompt=args.prompt).text)
    return 0


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max([len(h), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(header)]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("ping", help="check that the gateway answers (and the key works)")
    _gateway_arg(p)
    p.set_defaults(func=_ping)

    p = subparsers.add_parser("workers", help="list the workers on the mesh")
    _gateway_arg(p)
    p.add_argument("--model", default=None, help="only workers of this engine (case-insensitive)")
    p.add_argument("--available", action="store_true", help="only AVAILABLE workers")
    p.set_defaults(func=_workers)

    p = subparsers.add_parser("models", help="list the peers as OpenAI models (/v1/models)")
    _gateway_arg(p)
    p.set_defaults(func=_models)

    p = subparsers.add_parser("chat", help="send one prompt to a worker by peer id")
    _gateway_arg(p)
    p.add_argument("--peer", required=True, metavar="PEER_ID", help="the worker's peer id")
    p.add_argument("--prompt", required=True, help="the prompt text")
    p.add_argument("--stream", action="store_true", help="print output as it arrives")
    p.set_defaults(func=_chat)
