"""The agent's signer: loaded from an argument or ``AGENT_PRIVATE_KEY``, shown only by address."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from agentfm_nb.ogpu.errors import InvalidSignerError, MissingSignerError, Role

ENV_VAR = "AGENT_PRIVATE_KEY"
KeyLike = str | LocalAccount  # hex text, or an account object as the ogpu SDK accepts
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class Signer:
    """Signs transactions for one agent address. The key lives only inside the eth-account
    object; ``repr``, ``str``, pickling and copying never expose it."""

    __slots__ = ("_account", "address")

    def __init__(self, private_key: KeyLike, *, source: str = "argument") -> None:
        if isinstance(private_key, LocalAccount):
            self._account: LocalAccount = private_key
            self.address: str = private_key.address
            return
        if not isinstance(private_key, str):
            raise InvalidSignerError(
                f"expected hex text or a LocalAccount, got {type(private_key).__name__}",
                source=source,
            )
        text = private_key.strip()
        body = text[2:] if text[:2].lower() == "0x" else text
        if not _HEX64.fullmatch(body):
            raise InvalidSignerError(
                f"expected 32 bytes as 64 hex digits (optionally 0x-prefixed), got {len(body)} "
                "characters"
                + (
                    ""
                    if all(c in "0123456789abcdefABCDEF" for c in body)
                    else " including non-hex ones"
                ),
                source=source,
            ) from None
        value = int(body, 16)
        if not 0 < value < _SECP256K1_N:
            raise InvalidSignerError("not a valid secp256k1 private key", source=source) from None
        try:
            account = Account.from_key("0x" + body)
        except Exception:
            account = None
        if account is None:  # raised outside the handler: eth-account's error (it may quote
            # the key) must not even ride along as __context__
            raise InvalidSignerError("rejected by eth-account", source=source)
        self._account = account
        self.address = account.address

    @classmethod
    def resolve(
        cls, private_key: KeyLike | None = None, *, environ: Mapping[str, str] | None = None
    ) -> Signer:
        """Use ``private_key`` when given, else ``AGENT_PRIVATE_KEY``; raise when neither."""
        if private_key is not None:
            if isinstance(private_key, str) and not private_key.strip():
                raise InvalidSignerError("the private_key argument is empty", source="argument")
            return cls(private_key, source="argument")
        env = os.environ if environ is None else environ
        value = env.get(ENV_VAR)
        if value is None or not value.strip():
            raise MissingSignerError(Role.AGENT)
        return cls(value, source=f"${ENV_VAR}")

    def sign_transaction(self, tx: Mapping[str, Any]) -> bytes:
        """Sign and return the raw transaction bytes."""
        signed = self._account.sign_transaction(dict(tx))
        return bytes(signed.raw_transaction)

    def __repr__(self) -> str:
        return f"Signer(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("Signer cannot be pickled (it holds a private key)")

    def __copy__(self) -> Signer:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Signer:
        return self
