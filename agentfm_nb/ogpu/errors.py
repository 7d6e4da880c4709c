"""Typed errors of the OpenGPU agent role, named and grouped as the ``ogpu`` SDK's.

The SDK's groups are kept (``StateError``, ``PermissionError``, ``VaultError``, ``TxError``,
``ConfigError``) with its class names, fields and message openings, so ``except`` clauses written
for it keep working. Every revert error also derives from ``TxRevertedError``, which carries our
richer data: the function, the decoded revert (string, custom error or panic), the transaction
hash when one was mined, and whether it was found by simulation. No error carries the key.
"""

from __future__ import annotations

import enum
from typing import Any

from agentfm_nb.errors import AgentFMError
from agentfm_nb.ogpu.revert import Revert


class Role(enum.Enum):
    """Which role a signer acts as; names the ``<ROLE>_PRIVATE_KEY`` variable (as the SDK)."""

    CLIENT = "client"
    PROVIDER = "provider"
    MASTER = "master"
    AGENT = "agent"


class OGPUError(AgentFMError):
    """Base of every OpenGPU agent error."""


# -- the SDK's groups (abstract) ---------------------------------------------------------------
class StateError(OGPUError):
    """The operation is not valid in the current on-chain state."""


class PermissionError(OGPUError):  # the SDK's name: shadows the builtin on purpose
    """The signer is not authorized for the operation."""


class VaultError(OGPUError):
    """Lockup / balance / eligibility checks failed."""


class TxError(OGPUError):
    """Transaction-layer failure: revert fallback, nonce, gas, RPC, receipt timeout."""


class ConfigError(OGPUError):
    """Signer or chain configuration is missing or invalid."""


# -- configuration -----------------------------------------------------------------------------
class ChainConfigError(ConfigError):
    """The chain configuration is incomplete or names an unknown preset."""


class MissingSignerError(ConfigError):
    """No private key was given and the role's environment variable is unset."""

    def __init__(self, role: Role | None = Role.AGENT) -> None:
        self.role = role
        self.variable = f"{role.value.upper()}_PRIVATE_KEY" if role else None
        if role is None:
            text = "No signer provided and no env-var fallback is allowed for this operation."
        else:
            text = (
                f"No signer provided and environment variable {self.variable} is not set. "
                f"Pass private_key= explicitly or set {self.variable}."
            )
        super().__init__(text, code="missing_signer")


class InvalidSignerError(ConfigError):
    """The private key is malformed (the message says why, never what it was)."""

    def __init__(self, reason: str, *, source: str = "argument") -> None:
        super().__init__(f"Invalid signer: {reason} (from {source})", code="invalid_signer")
        self.reason = reason
        self.source = source


class ChainMismatchError(ConfigError):
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


# -- transport / node --------------------------------------------------------------------------
class TxRpcError(TxError):
    """The node failed or refused a request in a way no narrower type covers."""

    def __init__(self, reason: str, *, code: str = "rpc") -> None:
        super().__init__(f"RPC error: {reason}", code=code)
        self.reason = reason


class ChainConnectionError(TxRpcError):
    """The RPC node cannot be reached or the transport failed."""

    def __init__(self, rpc_url: str, detail: str) -> None:
        super().__init__(
            f"cannot reach the chain node at {rpc_url}: {detail}", code="chain_connection"
        )
        self.rpc_url = rpc_url
        self.detail = detail


class TxSendError(TxRpcError):
    """The node refused a simulated, signed transaction (e.g. insufficient funds for gas)."""

    def __init__(self, function: str, nonce: int | None, detail: str) -> None:
        super().__init__(f"{function}: the node refused the transaction: {detail}", code="send")
        self.function = function
        self.nonce = nonce
        self.detail = detail


class NonceError(TxError):
    """A nonce collision that could not be recovered automatically."""

    def __init__(self, address: str, tried: int, suggested: int) -> None:
        super().__init__(
            f"Nonce error for {address}: tried {tried}, suggested {suggested}", code="nonce"
        )
        self.address = address
        self.tried = tried
        self.suggested = suggested


class GasError(TxError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Gas error: {reason}", code="gas")
        self.reason = reason


class TxReceiptTimeoutError(TxError):
    """No receipt in time. The transaction was sent and may still be mined (unless
    ``cancel_hash`` names a cancel that was mined instead)."""

    def __init__(
        self,
        tx_hash: str,
        timeout: float,
        *,
        nonce: int | None = None,
        cancel_hash: str | None = None,
    ) -> None:
        text = (
            f"No receipt for transaction {tx_hash} within {timeout:.0f}s — "
            "the transaction was broadcast and may still be mined"
        )
        if cancel_hash:
            text += f"; a zero-value cancel {cancel_hash} was sent at nonce {nonce}"
        elif nonce is not None:
            text += f" (nonce {nonce} is still tracked and re-sent if it stalls)"
        super().__init__(text, code="timeout")
        self.tx_hash = tx_hash
        self.timeout = timeout
        self.nonce = nonce
        self.cancel_hash = cancel_hash


TxTimeoutError = TxReceiptTimeoutError


class TxDroppedError(TxError):
    """A sent transaction vanished from the node and could not be sent again."""

    def __init__(self, tx_hash: str, nonce: int, message: str | None = None) -> None:
        super().__init__(
            message or f"transaction {tx_hash} (nonce {nonce}) was dropped by the node",
            code="dropped",
        )
        self.tx_hash = tx_hash
        self.nonce = nonce


class TxReplacedError(TxDroppedError):
    """A transaction that is not ours was mined with the same nonce."""

    def __init__(self, tx_hash: str, nonce: int) -> None:
        super().__init__(
            tx_hash,
            nonce,
            f"transaction {tx_hash} was replaced: another transaction with nonce {nonce} was mined",
        )
        self.code = "replaced"


# -- reverts -----------------------------------------------------------------------------------
class TxRevertedError(OGPUError):
    """Base of every revert (found by simulating before sending, or by replaying a mined
    failure), whatever SDK group its concrete class belongs to."""

    def __init__(
        self, function: str, revert: Revert, message: str, *, tx_hash: str | None = None
    ) -> None:
        where = f"mined in {tx_hash}" if tx_hash else "simulated, nothing sent"
        super().__init__(f"{message} ({function}: {revert.describe()}; {where})", code="reverted")
        self.function = function
        self.revert = revert
        self.reason = revert.reason if revert.reason is not None else revert.describe()
        self.error_name = revert.error_name
        self.error_args = dict(revert.error_args)
        self.data = revert.data
        self.tx_hash = tx_hash


class TxRevertError(TxRevertedError, TxError):
    """A revert no typed error covers (the SDK's fallback)."""

    def __init__(self, function: str, revert: Revert, *, tx_hash: str | None = None) -> None:
        super().__init__(
            function, revert, f"Transaction reverted: {revert.describe()}", tx_hash=tx_hash
        )


class _AccountRevert(TxRevertedError):
    """A revert about one account (the SDK's ``account`` field) with the SDK's message."""

    template = "Account {account}"

    def __init__(
        self, function: str, revert: Revert, *, account: str, tx_hash: str | None = None
    ) -> None:
        super().__init__(function, revert, self.template.format(account=account), tx_hash=tx_hash)
        self.account = account


class NotMasterError(_AccountRevert, PermissionError):
    """``NotMaster``: the signer may not act for the provider's master."""

    template = "Account {account} is not registered as a master"


class NotProviderError(_AccountRevert, PermissionError):
    template = "Account {account} is not registered as a provider"


class NotEligibleError(_AccountRevert, VaultError):
    template = "Account {account} is not eligible for this operation"


class NotAgentError(NotMasterError):
    """``NotMaster`` on an agent call, explained: the signer is not an agent of the principal
    (found with ``Terminal.masterOf`` and ``isAgentOf``)."""

    def __init__(
        self,
        function: str,
        revert: Revert,
        *,
        principal: str | None,
        agent: str,
        tx_hash: str | None = None,
    ) -> None:
        TxRevertedError.__init__(
            self,
            function,
            revert,
            f"Account {agent} is not an agent of principal {principal or '(unknown)'}: "
            "Terminal.setAgent(agent, true) by the principal is missing or revoked",
            tx_hash=tx_hash,
        )
        self.account = agent
        self.principal = principal
        self.agent = agent


class InsufficientLockupError(TxRevertedError, VaultError):
    """``InsufficientLockup``: ``account`` (the provider) has ``available`` locked of the
    ``required`` minimum (0 when the contracts cannot tell)."""

    def __init__(
        self,
        function: str,
        revert: Revert,
        *,
        account: str,
        required: int,
        available: int,
        source: str = "",
        tx_hash: str | None = None,
    ) -> None:
        super().__init__(
            function,
            revert,
            f"Account {account} has insufficient lockup: required {required}, "
            f"available {available}",
            tx_hash=tx_hash,
        )
        self.account = account
        self.provider = account
        self.required = required
        self.available = available
        self.source = source


class SourceInactiveError(TxRevertedError, StateError):
    def __init__(
        self, function: str, revert: Revert, *, source: str, tx_hash: str | None = None
    ) -> None:
        super().__init__(
            function,
            revert,
            f"Source {source} is inactive and cannot accept tasks",
            tx_hash=tx_hash,
        )
        self.source = source


class TaskExpiredError(TxRevertedError, StateError):
    def __init__(
        self,
        function: str,
        revert: Revert,
        *,
        task: str,
        expiry: int | None,
        chain_time: int | None,
        tx_hash: str | None = None,
    ) -> None:
        super().__init__(
            function,
            revert,
            f"Task {task} expired at unix timestamp {expiry} (chain time {chain_time})",
            tx_hash=tx_hash,
        )
        self.task = task
        self.expiry = expiry
        self.chain_time = chain_time

    @property
    def expiry_time(self) -> int | None:
        return self.expiry


class TaskAlreadyFinalizedError(TxRevertedError, StateError):
    def __init__(
        self,
        function: str,
        revert: Revert,
        *,
        task: str,
        status: Any,
        tx_hash: str | None = None,
    ) -> None:
        name = getattr(status, "name", status)
        super().__init__(
            function,
            revert,
            f"Task {task} is already finalized (status {name})",
            tx_hash=tx_hash,
        )
        self.task = task
        self.status = status
