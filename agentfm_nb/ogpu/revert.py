"""Revert decoding: ``Error(string)``, ``Panic(uint256)`` or a custom error matched by selector.

Reverts are read from the web3 exception's ``.data`` (falling back to ``.message``), never parsed
out of ``str(exc)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")


@dataclass(frozen=True)
class Revert:
    """A decoded revert: a require string, a custom error (name + args) or a panic code."""

    data: str | None
    reason: str | None = None
    error_name: str | None = None
    error_args: Mapping[str, Any] = field(default_factory=dict)
    panic_code: int | None = None

    def describe(self) -> str:
        if self.reason is not None:
            return repr(self.reason)
        if self.error_name is not None:
            args = ", ".join(f"{k}={v!r}" for k, v in self.error_args.items())
            return f"{self.error_name}({args})"
        if self.panic_code is not None:
            return f"panic 0x{self.panic_code:02x}"
        return f"no reason (data {self.data or '0x'})"

    def matches(self, word: str) -> bool:
        """True when the require string is ``word`` or ends in ``: word`` (``Task: Expired``)."""
        if self.reason is None:
            return False
        text = self.reason.strip()
        return text == word or text.endswith(f": {word}") or text.endswith(f":{word}")


def _selector(entry: Mapping[str, Any]) -> bytes:
    types = ",".join(_canonical(i) for i in entry.get("inputs", []))
    return keccak(text=f"{entry['name']}({types})")[:4]


def _canonical(param: Mapping[str, Any]) -> str:
    t = str(param["type"])
    if t.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in param.get("components", []))
        return f"({inner}){t[5:]}"
    return t


def _as_bytes(data: Any) -> bytes | None:
    if data is None:
        return None
    if isinstance(data, Mapping):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        text = data[2:] if data.startswith("0x") else data
        try:
            return bytes.fromhex(text)
        except ValueError:
            return None
    return None


def _readable(param: Mapping[str, Any], value: Any) -> Any:
    return to_checksum_address(value) if param.get("type") == "address" else value


def decode_revert_data(data: Any, abi_errors: Iterable[Mapping[str, Any]] = ()) -> Revert:
    """Decode revert return data against ``Error(string)``, ``Panic`` and the given errors."""
    raw = _as_bytes(data)
    hexdata = "0x" + raw.hex() if raw is not None else None
    if not raw or len(raw) < 4:
        return Revert(data=hexdata)
    head, body = raw[:4], raw[4:]
    try:
        if head == _ERROR_STRING:
            (reason,) = abi_decode(["string"], body)
            return Revert(data=hexdata, reason=str(reason))
        if head == _PANIC:
            (code,) = abi_decode(["uint256"], body)
            return Revert(data=hexdata, panic_code=int(code))
        for entry in abi_errors:
            if entry.get("type") == "error" and _selector(entry) == head:
                inputs = entry.get("inputs", [])
                values = abi_decode([_canonical(i) for i in inputs], body)
                args = {
                    (i.get("name") or f"arg{n}"): _readable(i, v)
                    for n, (i, v) in enumerate(zip(inputs, values, strict=False))
                }
                return Revert(data=hexdata, error_name=str(entry["name"]), error_args=args)
    except Exception:  # malformed payload: keep the raw data
        return Revert(data=hexdata)
    return Revert(data=hexdata)


def decode_revert(exc: BaseException, abi_errors: Iterable[Mapping[str, Any]] = ()) -> Revert:
    """Decode a web3 contract error from its ``.data`` (or ``.message`` when there is no data)."""
    revert = decode_revert_data(getattr(exc, "data", None), abi_errors)
    if revert.reason is None and revert.error_name is None and revert.panic_code is None:
        message = getattr(exc, "message", None)
        if isinstance(message, str):
            prefix = "execution reverted"
            text = message.strip()
            if text.startswith(prefix):
                rest = text[len(prefix) :].lstrip(": ").strip()
                if rest and not rest.startswith("0x"):
                    return Revert(data=revert.data, reason=rest)
    return revert
