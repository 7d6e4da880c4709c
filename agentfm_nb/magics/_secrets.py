"""Keep API keys and private keys out of what a magic prints or raises.

A magic line is saved with the notebook, but its *output* is also saved, shown in CI logs and
shared as exports; so a key typed (or pasted by mistake) into a magic must not come back in an
error line. Two guards: options that name a literal key are refused before parsing, and every
error line is scrubbed of argument pieces that look like keys and of the values of key-holding
environment variables.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

HIDDEN = "<hidden>"

# Options people reach for when they have a key in hand, on any subcommand of either magic.
LITERAL_KEY_OPTIONS = (
    "--api-key",
    "--api_key",
    "--apikey",
    "--key",
    "--token",
    "--secret",
    "--password",
    "--private-key",
    "--private_key",
)

_PIECE_CHARS = re.compile(r"[A-Za-z0-9_\-+/=~]+")
_SPLIT = re.compile(r"[\s:/?&#@,;'\"]+")
_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")  # public: contract and account addresses
_PEER_ID = re.compile(r"(12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{40,}")  # public libp2p ids
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_KEY_PREFIXES = ("sk-", "sk_", "pk_", "rk_", "ghp_", "gho_", "github_pat_", "xox", "AKIA", "eyJ")
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
MIN_SECRET = 16  # the gateway's shortest accepted API key


def looks_secret(piece: str) -> bool:
    """Whether one argument piece has the shape of a key (random, long, not a public id)."""
    if _HEX_KEY.fullmatch(piece):
        return True
    if len(piece) < MIN_SECRET or not _PIECE_CHARS.fullmatch(piece):
        return False
    if piece.startswith(_KEY_PREFIXES):
        return True
    if _ADDRESS.fullmatch(piece) or _PEER_ID.fullmatch(piece):
        return False
    if "_" in piece and _ENV_NAME.fullmatch(piece):  # a variable's name, not its value
        return False
    if piece.isdigit():  # wei amounts, block numbers
        return False
    has_letter = any(c.isalpha() for c in piece)
    has_digit = any(c.isdigit() for c in piece)
    return has_letter and has_digit and len(piece) >= 20


def secret_pieces(tokens: Iterable[str]) -> set[str]:
    """Every key-shaped piece of the arguments (URL path segments and query values too)."""
    found: set[str] = set()
    for token in tokens:
        for piece in [token, *_SPLIT.split(token)]:
            if piece and looks_secret(piece):
                found.add(piece)
            # "--opt=VALUE" and "name=VALUE" query pairs
            _, sep, value = piece.partition("=")
            if sep and value and looks_secret(value):
                found.add(value)
    return found


def environment_secrets() -> set[str]:
    """Values of key-holding variables (AGENTFM_API_KEY, AGENT_PRIVATE_KEY, ...)."""
    return {
        value for name, value in os.environ.items() if _SECRET_ENV.search(name) and len(value) >= 8
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a key that contains a shorter flagged piece is hidden whole.
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, HIDDEN)
    return text


def literal_key_option(tokens: Iterable[str]) -> str | None:
    """The first option in ``tokens`` that would carry a literal key, if any."""
    for token in tokens:
        name = token.split("=", 1)[0]
        if name in LITERAL_KEY_OPTIONS:
            return name
    return None
