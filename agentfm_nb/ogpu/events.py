"""The chain event feed: typed records from a block range or followed live, and a DataFrame."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, cast

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from agentfm_nb.ogpu.abi import NEXUS_EVENTS, TERMINAL_EVENTS
from agentfm_nb.ogpu.enums import TaskStatus

if TYPE_CHECKING:
    import pandas as pd

    from agentfm_nb.ogpu.rpc import Connection


@dataclass(frozen=True, kw_only=True)
class ChainEvent:
    """Where an event happened; subclasses add the decoded arguments."""

    name: str
    contract: str
    block_number: int
    tx_hash: str
    log_index: int
    timestamp: int | None = None


@dataclass(frozen=True, kw_only=True)
class TaskPublished(ChainEvent):
    task: str
    source: str


@dataclass(frozen=True, kw_only=True)
class Attempted(ChainEvent):
    task: str
    provider: str
    suggested_payment: int


@dataclass(frozen=True, kw_only=True)
class Registered(ChainEvent):
    provider: str
    registrant_id: int
    source: str
    preferred_environment: int


@dataclass(frozen=True, kw_only=True)
class TaskStatusChanged(ChainEvent):
    task: str
    status: TaskStatus


@dataclass(frozen=True, kw_only=True)
class AgentSet(ChainEvent):
    account: str
    agent: str
    value: bool


@dataclass(frozen=True, kw_only=True)
class OtherEvent(ChainEvent):
    """A Nexus event outside the feed's main five (SourcePublished, ...)."""

    args: Mapping[str, Any]


FEED_EVENTS = ("TaskPublished", "Attempted", "Registered", "TaskStatusChanged", "AgentSet")
_TYPES: dict[str, type[ChainEvent]] = {
    "TaskPublished": TaskPublished,
    "Attempted": Attempted,
    "Registered": Registered,
    "TaskStatusChanged": TaskStatusChanged,
    "AgentSet": AgentSet,
}
_RENAME = {
    "suggestedPayment": "suggested_payment",
    "registrantId": "registrant_id",
    "preferredEnvironment": "preferred_environment",
}


def _signature(entry: Mapping[str, Any]) -> str:
    return f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"


_BY_TOPIC: dict[bytes, Mapping[str, Any]] = {
    keccak(text=_signature(e)): e for e in [*NEXUS_EVENTS, *TERMINAL_EVENTS]
}


def topic_of(name: str) -> str:
    for topic, entry in _BY_TOPIC.items():
        if entry["name"] == name:
            return "0x" + topic.hex()
    raise KeyError(name)


def _hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def _raw(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


def decode_log(log: Mapping[str, Any], timestamp: int | None = None) -> ChainEvent | None:
    """Decode one raw log of the Nexus or Terminal; ``None`` for logs we do not know."""
    topics = log.get("topics") or []
    if not topics:
        return None
    entry = _BY_TOPIC.get(_raw(topics[0]))
    if entry is None:
        return None
    values = abi_decode([i["type"] for i in entry["inputs"]], _raw(log["data"]))
    args: dict[str, Any] = {}
    for param, value in zip(entry["inputs"], values, strict=False):
        key = _RENAME.get(param["name"], param["name"])
        args[key] = to_checksum_address(value) if param["type"] == "address" else value
    base = {
        "name": entry["name"],
        "contract": to_checksum_address(log["address"]),
        "block_number": int(log["blockNumber"]),
        "tx_hash": _hex(log["transactionHash"]),
        "log_index": int(log["logIndex"]),
        "timestamp": timestamp,
    }
    cls = _TYPES.get(entry["name"])
    if cls is None:
        return OtherEvent(**base, args=args)
    if cls is TaskStatusChanged:
        args["status"] = TaskStatus(args["status"])
    if cls is Registered:
        args["preferred_environment"] = int(args["preferred_environment"])
    return cls(**base, **args)


def to_dataframe(events: Iterable[ChainEvent]) -> pd.DataFrame:
    """One row per event; argument columns are the union over event types (absent → NA)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for ev in events:
        row = {f.name: getattr(ev, f.name) for f in fields(ev)}
        if isinstance(ev, OtherEvent):
            row.pop("args")
            row.update(ev.args)
        if isinstance(row.get("status"), TaskStatus):
            row["status"] = row["status"].name
        rows.append(row)
    base = ["name", "block_number", "timestamp", "contract", "tx_hash", "log_index"]
    frame = pd.DataFrame(rows, columns=None if rows else base)
    extra = [c for c in frame.columns if c not in base]
    frame = frame[[*base, *extra]]
    frame["block_number"] = frame["block_number"].astype("int64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    return cast("pd.DataFrame", frame)


def event_to_dict(ev: ChainEvent) -> dict[str, Any]:
    """JSON-friendly dict (for widget state)."""
    out = asdict(ev)
    for key, value in list(out.items()):
        if isinstance(value, TaskStatus):
            out[key] = value.name
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            out[key] = str(value)
    return out


class EventFeed:
    """Nexus + Terminal events for one connection."""

    def __init__(self, conn: Connection, names: Sequence[str] = FEED_EVENTS) -> None:
        self.conn = conn
        self.names = tuple(names)
        self._topics = [topic_of(n) for n in self.names]
        self._timestamps: dict[int, int] = {}

    def _block_time(self, number: int) -> int:
        ts = self._timestamps.get(number)
        if ts is None:
            block = self.conn.call(lambda: self.conn.w3.eth.get_block(number))
            ts = self._timestamps[number] = int(block["timestamp"])
            if len(self._timestamps) > 4096:
                self._timestamps.clear()
        return ts

    def fetch(self, from_block: int = 0, to_block: int | str = "latest") -> list[ChainEvent]:
        """Every feed event in ``[from_block, to_block]``, in chain order."""
        addresses = [self.conn.nexus.address, self.conn.terminal.address]
        params = {
            "fromBlock": from_block,
            "toBlock": to_block,
            "address": addresses,
            "topics": [self._topics],
        }
        logs = self.conn.call(lambda: self.conn.w3.eth.get_logs(params))
        out: list[ChainEvent] = []
        for log in sorted(logs, key=lambda x: (x["blockNumber"], x["logIndex"])):
            ev = decode_log(log, self._block_time(int(log["blockNumber"])))
            if ev is not None:
                out.append(ev)
        return out

    def follow(
        self,
        *,
        from_block: int | None = None,
        poll_interval: float = 0.05,
        stop: threading.Event | None = None,
    ) -> Iterator[ChainEvent]:
        """Yield events as blocks arrive, starting after the current head unless ``from_block``
        is given. Ends when ``stop`` is set."""
        stop = stop or threading.Event()
        head = int(self.conn.call(lambda: self.conn.w3.eth.block_number))
        nxt = head + 1 if from_block is None else from_block
        while not stop.is_set():
            head = int(self.conn.call(lambda: self.conn.w3.eth.block_number))
            if head >= nxt:
                yield from self.fetch(nxt, head)
                nxt = head + 1
            else:
                stop.wait(poll_interval)

    def start(
        self,
        callback: Callable[[ChainEvent], None],
        *,
        on_error: Callable[[BaseException], None] | None = None,
        poll_interval: float = 0.05,
        from_block: int | None = None,
    ) -> Follower:
        """Follow in a daemon thread, calling ``callback`` for each event."""
        return Follower(self, callback, on_error, poll_interval, from_block)


class Follower:
    def __init__(
        self,
        feed: EventFeed,
        callback: Callable[[ChainEvent], None],
        on_error: Callable[[BaseException], None] | None,
        poll_interval: float,
        from_block: int | None,
    ) -> None:
        self._stop = threading.Event()
        self._feed = feed
        self._callback = callback
        self._on_error = on_error
        self._poll = poll_interval
        self._from = from_block
        self.error: BaseException | None = None
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="ogpu-event-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for ev in self._feed.follow(
                from_block=self._from, poll_interval=self._poll, stop=self._stop
            ):
                self._callback(ev)
        except BaseException as exc:  # report, never kill the kernel thread silently
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
