"""The OpenGPU scheduler-agent role: register / unregister / attempt, signed by the agent key.

``Agent`` holds a connection and a signer; the module-level functions keep the published
signatures (``private_key`` falls back to ``AGENT_PRIVATE_KEY``; chain configuration comes from
``chain=`` or ``OGPU_CHAIN``/``OGPU_RPC_URL``). Scheduling only: response submission and
provider self-reported state are deliberately absent (they must be signed by the provider).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from agentfm_nb.ogpu import batch
from agentfm_nb.ogpu.abi import LOCKUP_VIEWS_ABI
from agentfm_nb.ogpu.chain import ChainConfig
from agentfm_nb.ogpu.enums import Environment, SourceStatus, TaskStatus
from agentfm_nb.ogpu.errors import (
    InsufficientLockupError,
    NotAgentError,
    NotEligibleError,
    NotMasterError,
    NotProviderError,
    OGPUError,
    SourceInactiveError,
    TaskAlreadyFinalizedError,
    TaskExpiredError,
    TxRevertError,
)
from agentfm_nb.ogpu.nonces import NonceManager
from agentfm_nb.ogpu.revert import Revert
from agentfm_nb.ogpu.rpc import Connection
from agentfm_nb.ogpu.signer import KeyLike, Signer
from agentfm_nb.ogpu.tx import PendingTx, Receipt, Transactor, TxRecord

__all__ = [
    "Agent",
    "ChainReader",
    "Environment",
    "SourceStatus",
    "TaskParams",
    "TaskStatus",
    "attempt",
    "is_agent_of",
    "register_to",
    "source_status",
    "task_expiry",
    "task_params",
    "task_status",
    "unregister_from",
]


@dataclass(frozen=True)
class TaskParams:
    source: str
    config: str
    expiry_time: int
    payment: int


_ZERO = "0x0000000000000000000000000000000000000000"


def _addr(value: str) -> str:
    return Web3.to_checksum_address(value)


class ChainReader:
    """Read-only views; no key needed."""

    def __init__(self, chain: ChainConfig | Connection) -> None:
        self.conn = chain if isinstance(chain, Connection) else Connection(chain)

    @property
    def chain(self) -> ChainConfig:
        return self.conn.chain

    def master_of(self, provider: str) -> str:
        fn = self.conn.terminal.functions.masterOf(_addr(provider))
        return _addr(self.conn.call(fn.call))

    def is_agent_of(self, principal: str, agent: str) -> bool:
        fn = self.conn.terminal.functions.isAgentOf(_addr(principal), _addr(agent))
        return bool(self.conn.call(fn.call))

    def task_status(self, task: str) -> TaskStatus:
        return TaskStatus(int(self.conn.call(self.conn.task(task).functions.getStatus().call)))

    def task_expiry(self, task: str) -> int:
        return int(self.conn.call(self.conn.task(task).functions.getExpiryTime().call))

    def task_params(self, task: str) -> TaskParams:
        source, config, expiry, payment = self.conn.call(
            self.conn.task(task).functions.taskParams().call
        )
        return TaskParams(_addr(source), str(config), int(expiry), int(payment))

    def source_status(self, source: str) -> SourceStatus:
        fn = self.conn.source(source).functions.getStatus()
        return SourceStatus(int(self.conn.call(fn.call)))

    def chain_time(self) -> int:
        return self.conn.chain_time()

    def block_number(self) -> int:
        return int(self.conn.call(lambda: self.conn.w3.eth.block_number))


class Agent(ChainReader):
    """An agent key on one chain. Thread-safe: concurrent calls share one nonce sequence."""

    def __init__(
        self,
        chain: ChainConfig | Connection,
        private_key: KeyLike | None = None,
        *,
        timeout: float = 120.0,
        history: int = 200,
        stall_after: float | None = None,
    ) -> None:
        """``private_key``: hex text or an eth-account ``LocalAccount`` (falls back to
        ``AGENT_PRIVATE_KEY``). ``stall_after``: seconds before a ready transaction that is not
        mined is re-sent with bumped fees (default: a few block intervals, at least 1 s; sooner
        when the node's pool shows it queued);
        it applies to every ``Agent`` of this key on this node."""
        signer = Signer.resolve(private_key)  # before any network: a bad key fails fast
        super().__init__(chain)
        self.signer = signer
        self.timeout = timeout
        self.recent: deque[TxRecord] = deque(maxlen=history)
        self._listeners: list[Callable[[TxRecord], None]] = []
        self._tx = Transactor(self.conn, signer, on_record=self._record)
        if stall_after is not None:
            self._tx.nonces.stall_after = stall_after

    @property
    def nonces(self) -> NonceManager:
        """This key's nonce manager (shared by every ``Agent`` of the key on this node)."""
        return self._tx.nonces

    def heal(self) -> None:
        """Check the tracked transactions against the node now (waiters do this by
        themselves): re-send a stalled one, re-broadcast forgotten ones, fill a hole."""
        self._tx.nonces.maybe_heal(self._tx, force=True)

    @property
    def address(self) -> str:
        return self.signer.address

    def __repr__(self) -> str:
        return (
            f"Agent(address={self.address}, chain={self.chain.name!r}, "
            f"rpc={self.chain.display_url!r})"
        )

    def add_listener(self, fn: Callable[[TxRecord], None]) -> None:
        self._listeners.append(fn)

    def _record(self, record: TxRecord) -> None:
        if record.state == "pending" and all(r is not record for r in self.recent):
            self.recent.appendleft(record)
        for fn in list(self._listeners):
            fn(record)

    # -- sends -------------------------------------------------------------------------------
    def submit_register(self, source: str, provider: str, env: int | str) -> PendingTx:
        return self.submit("register", source=source, provider=provider, env=env)

    def submit_unregister(self, source: str, provider: str) -> PendingTx:
        return self.submit("unregister", source=source, provider=provider)

    def submit_attempt(self, task: str, provider: str, suggested_payment: int) -> PendingTx:
        return self.submit(
            "attempt", task=task, provider=provider, suggested_payment=suggested_payment
        )

    def preview(self, action: str, **kwargs: Any) -> int:
        """Simulate ``register``/``unregister``/``attempt`` and return the gas estimate; a
        revert raises the same typed error the send would (nothing is signed)."""
        function, args, fn = self._build(action, **kwargs)
        return self._tx.simulate(fn, self._mapper(function, args))

    def _build(self, action: str, **kw: Any) -> tuple[str, dict[str, Any], Any]:
        nexus = self.conn.nexus.functions
        if action == "register":
            src, prov = _addr(kw["source"]), _addr(kw["provider"])
            env = int(Environment.parse(kw["env"]))
            return (
                action,
                {"source": src, "provider": prov, "env": env},
                nexus.register(src, prov, env),
            )
        if action == "unregister":
            src, prov = _addr(kw["source"]), _addr(kw["provider"])
            return action, {"source": src, "provider": prov}, nexus.unregister(src, prov)
        if action == "attempt":
            tsk, prov = _addr(kw["task"]), _addr(kw["provider"])
            pay = int(kw["suggested_payment"])
            if pay < 0:
                raise ValueError("suggested_payment must be >= 0 wei")
            args = {"task": tsk, "provider": prov, "suggested_payment": pay}
            return action, args, nexus.attempt(tsk, prov, pay)
        raise ValueError(f"unknown action {action!r}; use register, unregister or attempt")

    def submit(self, action: str, **kwargs: Any) -> PendingTx:
        function, args, fn = self._build(action, **kwargs)
        return self._tx.submit(function, args, fn, self._mapper(function, args))

    def submit_many(
        self, action: str, calls: Iterable[Mapping[str, Any]]
    ) -> list[PendingTx | OGPUError]:
        """Pipelined sends through JSON-RPC batches: every call simulated, reverting ones
        returned as their typed error (no nonce taken), the rest sent with consecutive nonces.
        Bad arguments raise before anything is sent."""
        built = [self._build(action, **dict(kw)) for kw in calls]
        return batch.submit_many(
            self._tx,
            [batch.Call(f, args, fn, self._mapper(f, args)) for f, args, fn in built],
        )

    def wait_all(
        self, items: Sequence[PendingTx | OGPUError], timeout: float | None = None
    ) -> list[Receipt | OGPUError]:
        """Receipts for ``submit_many`` results, polled in batches; errors pass through."""
        return batch.wait_many(self._tx, items, self.timeout if timeout is None else timeout)

    def attempt_many(
        self, attempts: Iterable[tuple[str, str, int]], *, timeout: float | None = None
    ) -> list[Receipt | OGPUError]:
        """``attempt`` for many ``(task, provider, suggested_payment)``: one ``Receipt`` or
        typed error per item, in order (a failure never hides the others' results)."""
        calls = [
            {"task": task, "provider": provider, "suggested_payment": payment}
            for task, provider, payment in attempts
        ]
        return self.wait_all(self.submit_many("attempt", calls), timeout)

    def register_to(self, source: str, provider: str, env: int | str, **_ignored: Any) -> Receipt:
        """``Nexus.register`` for ``provider`` on ``source`` with an environment bitmask."""
        return self.submit_register(source, provider, env).wait(self.timeout)

    def unregister_from(self, source: str, provider: str, **_ignored: Any) -> Receipt:
        """``Nexus.unregister``."""
        return self.submit_unregister(source, provider).wait(self.timeout)

    def attempt(self, task: str, provider: str, suggested_payment: int, **_ignored: Any) -> Receipt:
        """``Nexus.attempt`` attributed to ``provider``; first attempt makes the task ATTEMPTED."""
        return self.submit_attempt(task, provider, suggested_payment).wait(self.timeout)

    # -- revert → typed error ----------------------------------------------------------------
    def _mapper(
        self, function: str, args: dict[str, Any]
    ) -> Callable[[Revert, str | None], OGPUError]:
        def build(revert: Revert, tx_hash: str | None) -> OGPUError:
            return self._classify(function, args, revert, tx_hash)

        return build

    def _safe(self, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except Exception:  # enrichment only: the revert itself is already known
            return None

    def _classify(
        self, function: str, args: dict[str, Any], revert: Revert, tx_hash: str | None
    ) -> OGPUError:
        """Require strings → the SDK's typed errors, enriched with what the chain can tell."""
        kw: dict[str, Any] = {"tx_hash": tx_hash}
        provider = args.get("provider")
        task = args.get("task")
        if revert.matches("NotMaster"):
            principal = self._safe(lambda: self.master_of(provider)) if provider else None
            if (
                principal
                and principal != _ZERO
                and not self._safe(lambda: self.is_agent_of(principal, self.address))
            ):
                return NotAgentError(
                    function, revert, principal=principal, agent=self.address, **kw
                )
            return NotMasterError(function, revert, account=self.address, **kw)
        if revert.matches("NotProvider"):
            return NotProviderError(function, revert, account=provider or self.address, **kw)
        if revert.matches("NotEligible"):
            return NotEligibleError(function, revert, account=provider or self.address, **kw)
        if revert.matches("InsufficientLockup"):
            source = args.get("source", "")
            required, available = self._lockups(source, provider)
            return InsufficientLockupError(
                function,
                revert,
                account=provider or self.address,
                required=required,
                available=available,
                source=source,
                **kw,
            )
        if revert.matches("SourceInactive"):
            source = args.get("source")
            if source is None and task is not None:
                params = self._safe(lambda: self.task_params(task))
                source = params.source if params else ""
            return SourceInactiveError(function, revert, source=source or "", **kw)
        if task is not None and revert.matches("Expired"):
            return TaskExpiredError(
                function,
                revert,
                task=task,
                expiry=self._safe(lambda: self.task_expiry(task)),
                chain_time=self._safe(self.chain_time),
                **kw,
            )
        if task is not None and revert.matches("AlreadyFinalized"):
            status = self._safe(lambda: self.task_status(task))
            return TaskAlreadyFinalizedError(function, revert, task=task, status=status, **kw)
        return TxRevertError(function, revert, **kw)

    def _lockups(self, source: str, provider: str | None) -> tuple[int, int]:
        """(required, available) from the test contracts' views when the chain has them;
        0 otherwise, as the SDK reports."""
        if not source or not provider:
            return 0, 0
        eth = self.conn.w3.eth
        src = eth.contract(address=_addr(source), abi=LOCKUP_VIEWS_ABI).functions
        term = eth.contract(address=_addr(self.chain.terminal), abi=LOCKUP_VIEWS_ABI).functions
        required = self._safe(lambda: self.conn.call(src.minLockup().call))
        available = self._safe(lambda: self.conn.call(term.lockupOf(_addr(provider)).call))
        return int(required or 0), int(available or 0)


def _agent(private_key: KeyLike | None, chain: ChainConfig | None) -> Agent:
    # key first: a missing key is reported even when no chain is configured either
    signer_check = Signer.resolve(private_key)
    del signer_check
    return Agent(chain or ChainConfig.from_env(), private_key)


def register_to(
    source: str,
    provider: str,
    env: int,
    private_key: KeyLike | None = None,
    *,
    chain: ChainConfig | None = None,
    **_ignored: Any,
) -> Receipt:
    """Register ``provider`` to ``source`` on behalf of the principal that authorized the agent."""
    return _agent(private_key, chain).register_to(source, provider, env)


def unregister_from(
    source: str,
    provider: str,
    private_key: KeyLike | None = None,
    *,
    chain: ChainConfig | None = None,
    **_ignored: Any,
) -> Receipt:
    """Unregister ``provider`` from ``source``."""
    return _agent(private_key, chain).unregister_from(source, provider)


def attempt(
    task: str,
    provider: str,
    suggested_payment: int,
    private_key: KeyLike | None = None,
    *,
    chain: ChainConfig | None = None,
    **_ignored: Any,
) -> Receipt:
    """Attempt ``task`` for ``provider`` (advisory ``suggested_payment`` in wei)."""
    return _agent(private_key, chain).attempt(task, provider, suggested_payment)


def _reader(chain: ChainConfig | None) -> ChainReader:
    return ChainReader(chain or ChainConfig.from_env())


def is_agent_of(principal: str, agent: str, *, chain: ChainConfig | None = None) -> bool:
    return _reader(chain).is_agent_of(principal, agent)


def task_status(task: str, *, chain: ChainConfig | None = None) -> TaskStatus:
    return _reader(chain).task_status(task)


def task_expiry(task: str, *, chain: ChainConfig | None = None) -> int:
    return _reader(chain).task_expiry(task)


def task_params(task: str, *, chain: ChainConfig | None = None) -> TaskParams:
    return _reader(chain).task_params(task)


def source_status(source: str, *, chain: ChainConfig | None = None) -> SourceStatus:
    return _reader(chain).source_status(source)
