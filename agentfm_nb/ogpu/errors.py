"""Typed errors of the OpenGPU agent role, and revert decoding from ``.message``/``.data``.

Every error carries the data that explains it (addresses, times, statuses, decoded revert) and
never the signer's key. Reverts are read from the exception's ``.data`` (ABI-encoded
``Error(string)``, ``Panic(uint256)`` or a custom error matched by selector), falling back to
``.message`` — never parsed out of ``str(exc)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from agentfm_nb.errors import AgentFMError

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")


class OGPUError(AgentFMError):
    """Base of every OpenGPU agent error."""


class ChainConfigError(OGPUError):
    """The chain configuration is incomplete or names an unknown preset."""


class MissingSignerError(OGPUError):
    """No private key was given and the environment variable is unset."""

    def __init__(self, variable: str = "AGENT_PRIVATE_KEY") -> None:
        super().__init__(
            f"no agent signer: pass private_key=... or set the {variable} environment variable",
            code="missing_signer",
        )
        self.variable = variable


class InvalidSignerError(OGPUError):
    """The private key is malformed (the message says why, never what it was)."""

    def __init__(self, reason: str, *, source: str) -> None:
        super().__init__(
            f"invalid agent private key from {source}: {reason}", code="invalid_signer"
        )
        self.reason = reason
        self.source = source


class ChainConnectionError(OGPUError):
    """The RPC node cannot be reached or the transport failed."""

    def __init__(self, rpc_url: str, detail: str) -> None:
        super().__init__(
            f"cannot reach the chain node at {rpc_url}: {detail}", code="chain_connection"
        )
        self.rpc_url = rpc_url
        self.detail = detail


class ChainMismatchError(OGPUError):
    """The node reports another chain id than the configured one; nothing was signed."""

    def __init__(self, expected: int, actual: int, rpc_url: str) -> None:
        super().__init__(
            f"chain id mismatch at {rpc_url}: configured {expected}, node reports {actual}; "
            "refusing to sign",
            code="chain_mismatch",
        )
        self.expected = expected
        self.actual = actual
        self.rpc_url = rpc_url


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


class TxRevertedError(OGPUError):
    """The call reverts (found by simulation before sending, or by replaying a mined failure)."""

    def __init__(
        self,
        function: str,
        revert: Revert,
        *,
        tx_hash: str | None = None,
        message: str | None = None,
    ) -> None:
        where = f" (mined in {tx_hash})" if tx_hash else " (simulated, nothing sent)"
        super().__init__(
            message or f"{function} reverted: {revert.describe()}{where}", code="reverted"
        )
        self.function = function
        self.revert = revert
        self.reason = revert.reason
        self.error_name = revert.error_name
        self.error_args = dict(revert.error_args)
        self.data = revert.data
        self.tx_hash = tx_hash


class NotAgentError(TxRevertedError):
    """The signer is not an authorized agent of the provider's principal."""

    def __init__(
        self, function: str, revert: Revert, *, principal: str | None, agent: str, **kw: Any
    ) -> None:
        super().__init__(
            function,
            revert,
            message=f"{function}: {agent} is not an agent of principal {principal or '(unknown)'}"
            " (Terminal.setAgent(agent, true) by the principal is missing or revoked)",
            **kw,
        )
        self.principal = principal
        self.agent = agent


class InsufficientLockupError(TxRevertedError):
    def __init__(self, function: str, revert: Revert, *, provider: str, source: str, **kw: Any):
        super().__init__(
            function,
            revert,
            message=f"{function}: provider {provider} lacks the lockup required by source {source}",
            **kw,
        )
        self.provider = provider
        self.source = source


class SourceInactiveError(TxRevertedError):
    def __init__(self, function: str, revert: Revert, *, source: str, **kw: Any) -> None:
        super().__init__(function, revert, message=f"{function}: source {source} is inactive", **kw)
        self.source = source


class TaskExpiredError(TxRevertedError):
    def __init__(
        self,
        function: str,
        revert: Revert,
        *,
        task: str,
        expiry_time: int | None,
        chain_time: int | None,
        **kw: Any,
    ) -> None:
        super().__init__(
            function,
            revert,
            message=f"{function}: task {task} expired at {expiry_time} (chain time {chain_time})",
            **kw,
        )
        self.task = task
        self.expiry_time = expiry_time
        self.chain_time = chain_time


class TaskAlreadyFinalizedError(TxRevertedError):
    def __init__(self, function: str, revert: Revert, *, task: str, status: Any, **kw: Any) -> None:
        name = getattr(status, "name", status)
        super().__init__(
            function, revert, message=f"{function}: task {task} is already {name}", **kw
        )
        self.task = task
        self.status = status


class TxDroppedError(OGPUError):
    """A sent transaction vanished from the node without being mined."""

    def __init__(self, tx_hash: str, nonce: int, message: str | None = None) -> None:
        super().__init__(
            message or f"transaction {tx_hash} (nonce {nonce}) was dropped by the node",
            code="dropped",
        )
        self.tx_hash = tx_hash
        self.nonce = nonce


class TxReplacedError(TxDroppedError):
    """Another transaction with the same nonce was mined instead."""

    def __init__(self, tx_hash: str, nonce: int) -> None:
        super().__init__(
            tx_hash,
            nonce,
            f"transaction {tx_hash} was replaced: another transaction with nonce {nonce} was mined",
        )
        self.code = "replaced"


class TxSendError(OGPUError):
    """The node refused a simulated, signed transaction (e.g. insufficient funds for gas)."""

    def __init__(self, function: str, nonce: int | None, detail: str) -> None:
        super().__init__(f"{function}: the node refused the transaction: {detail}", code="send")
        self.function = function
        self.nonce = nonce
        self.detail = detail


class TxTimeoutError(OGPUError):
    def __init__(self, tx_hash: str, timeout: float) -> None:
        super().__init__(f"transaction {tx_hash} not mined after {timeout:g} s", code="timeout")
        self.tx_hash = tx_hash
        self.timeout = timeout


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
