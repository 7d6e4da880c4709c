"""One connection to a node for a ``ChainConfig``: web3 objects, chain-id check, error mapping."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, ProviderConnectionError, Web3Exception

from agentfm_nb.ogpu.abi import NEXUS_ABI, SOURCE_ABI, TASK_ABI, TERMINAL_ABI
from agentfm_nb.ogpu.chain import ChainConfig
from agentfm_nb.ogpu.errors import (
    ChainConfigError,
    ChainConnectionError,
    ChainMismatchError,
    TxRevertError,
    TxRpcError,
)
from agentfm_nb.ogpu.revert import decode_revert

T = TypeVar("T")

_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    ProviderConnectionError,
    ConnectionError,
)
# Anything else web3 or the HTTP stack raises: the node answered, but not usefully.
_NODE_ERRORS: tuple[type[BaseException], ...] = (
    Web3Exception,
    requests.RequestException,
    json.JSONDecodeError,
)


class Connection:
    """Web3 bound to one chain config. Requests fail fast (no transport retries) so a dead node
    surfaces as ``ChainConnectionError`` at once."""

    def __init__(self, chain: ChainConfig, *, request_timeout: float = 10.0) -> None:
        self.chain = chain
        provider = HTTPProvider(
            chain.rpc_url,
            request_kwargs={"timeout": request_timeout},
            exception_retry_configuration=None,
        )
        # typed Any: we pass plain str addresses/hashes, which web3 accepts at run time
        self.w3: Any = Web3(provider)
        try:
            nexus, terminal = (Web3.to_checksum_address(a) for a in (chain.nexus, chain.terminal))
        except ValueError:
            raise ChainConfigError(
                f"chain {chain.name!r}: nexus/terminal must be 20-byte hex addresses"
            ) from None
        self.nexus = self.w3.eth.contract(address=nexus, abi=NEXUS_ABI)
        self.terminal = self.w3.eth.contract(address=terminal, abi=TERMINAL_ABI)
        self._verified = False
        self._lock = threading.Lock()

    def task(self, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=TASK_ABI)

    def source(self, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=SOURCE_ABI)

    @contextmanager
    def transport(self) -> Iterator[None]:
        """Map transport failures to ``ChainConnectionError`` and every other web3 or HTTP
        error to ``TxRpcError``; contract reverts pass through for the caller to decode. No
        raw web3 exception leaves this block."""
        try:
            yield
        except ContractLogicError:
            raise
        except _TRANSPORT_ERRORS as exc:
            self._verified = False  # a reconnect may reach another node: check its chain again
            raise ChainConnectionError(self.chain.display_url, type(exc).__name__) from None
        except _NODE_ERRORS as exc:
            message = getattr(exc, "message", None)
            detail = message if isinstance(message, str) else type(exc).__name__
            raise TxRpcError(detail) from None

    def call(self, fn: Callable[[], T], what: str = "call") -> T:
        """A read: a revert (e.g. no contract at the address) becomes ``TxRevertError``."""
        try:
            with self.transport():
                return fn()
        except ContractLogicError as exc:
            raise TxRevertError(what, decode_revert(exc)) from None

    def batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Send raw JSON-RPC requests in one HTTP round trip; one raw response per request, in
        order (``result`` or ``error`` each: unlike ``w3.batch_requests()``, one failing entry
        does not hide the others)."""
        if not requests:
            return []
        with self.transport():
            out = self.w3.provider.make_batch_request(list(requests))
        if not isinstance(out, list) or len(out) != len(requests):
            detail = out.get("error") if isinstance(out, dict) else out
            raise ChainConnectionError(self.chain.display_url, f"batch request refused: {detail}")
        return [dict(r) for r in out]

    def ensure_chain_id(self) -> None:
        """Compare the node's chain id with the configured one (once per connection)."""
        if self._verified:
            return
        with self._lock:
            if self._verified:
                return
            actual = int(self.call(lambda: self.w3.eth.chain_id))
            if actual != self.chain.chain_id:
                raise ChainMismatchError(self.chain.chain_id, actual, self.chain.display_url)
            self._verified = True

    def chain_time(self) -> int:
        block = self.call(lambda: self.w3.eth.get_block("latest"))
        return int(block["timestamp"])

    def __repr__(self) -> str:
        return f"Connection(chain={self.chain.name!r}, rpc_url={self.chain.display_url!r})"
