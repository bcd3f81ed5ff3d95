"""Flow events: frozen dataclasses with a stable JSON form, and the thread-safe stream that carries them.

Broker threads `put` events; a UI drains them in batches once per frame, headless drains and prints.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from core.topology_changes import TopologyChange


@dataclass(frozen=True, kw_only=True, slots=True)
class FlowEvent:
    """Base: every event names its kind, the message id (None for non-message events) and a time.

    Slotted: a frozen event sets each field through object.__setattr__, and with a __dict__ as well
    that made each of the five events per message cost ~3 us to create (~2 us slotted)."""

    kind: ClassVar[str] = "event"
    msg: str | None = None
    ts: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        """The contract form: `event`, `msg`, then the event's own fields (tuples become lists)."""
        out: dict[str, Any] = {"event": self.kind, "msg": self.msg}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


_FIELD_NAMES: dict[type[FlowEvent], tuple[str, ...]] = {}


def _field_names(kind: type[FlowEvent]) -> tuple[str, ...]:
    """An event class's fields but `msg`, in order (dataclasses.fields() rebuilds them every call)."""
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(kind) if f.name != "msg")
    return names


@dataclass(frozen=True, kw_only=True, slots=True)
class Published(FlowEvent):
    """The producer handed a message to the broker."""

    kind: ClassVar[str] = "published"
    exchange: str
    routing_key: str
    body: Any = None
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Routed(FlowEvent):
    """Where the broker put the message: `queues` is sorted and empty when unroutable.

    `source` says who knows: "broker" (the in-process broker reported it), "transport" (kombu's
    lookup on memory://) or "predicted" (core.routing, for RabbitMQ). `rabbitmq_queues` is set only
    when the broker in use routed differently from RabbitMQ.
    """

    kind: ClassVar[str] = "routed"
    exchange: str
    routing_key: str
    queues: tuple[str, ...]
    source: str = "broker"
    via_alternate: str | None = None
    rabbitmq_queues: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Delivered(FlowEvent):
    """A copy of the message reached a consumer from a queue, with the headers and AMQP properties
    that copy carried (a dead-lettered copy's x-death, a quorum queue's x-delivery-count)."""

    kind: ClassVar[str] = "delivered"
    queue: str
    consumer: str
    redelivered: bool = False
    headers: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    """The AMQP properties the copy carried besides content type, encoding and message id (shown
    elsewhere): priority, expiration, correlation_id, reply_to, timestamp, type, user_id, app_id."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Acked(FlowEvent):
    """The consumer acknowledged its copy from `queue`: that copy is done."""

    kind: ClassVar[str] = "acked"
    queue: str
    consumer: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Rejected(FlowEvent):
    """The consumer's handler failed; `action` is what its policy did: requeue, dead_letter or drop."""

    kind: ClassVar[str] = "rejected"
    queue: str
    consumer: str
    action: str
    error: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Requeued(FlowEvent):
    """The copy went back to its queue (reject with requeue, or its consumer crashed)."""

    kind: ClassVar[str] = "requeued"
    queue: str
    reason: str = "rejected"


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadLettered(FlowEvent):
    """The broker moved the copy from `queue` to a dead-letter exchange (reason: rejected/expired/maxlen)."""

    kind: ClassVar[str] = "dead_lettered"
    queue: str
    reason: str
    exchange: str = ""
    routing_key: str = ""
    queues: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Dropped(FlowEvent):
    """The copy was discarded with no dead-letter exchange (overflow, or a consumer's drop policy)."""

    kind: ClassVar[str] = "dropped"
    queue: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Expired(FlowEvent):
    """The copy's TTL ran out in `queue` (a dead_lettered event follows when the queue has a DLX)."""

    kind: ClassVar[str] = "expired"
    queue: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Returned(FlowEvent):
    """A mandatory message that routed nowhere came back to the producer."""

    kind: ClassVar[str] = "returned"
    exchange: str
    routing_key: str
    reason: str = "NO_ROUTE"


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumerState(FlowEvent):
    """A consumer changed state: idle, paused, crashed, stopped or disconnected.

    Working on a message is not reported separately: a consumer works from its `delivered` event
    until the `acked` or `rejected` that settles it (readers derive "working" from those).
    """

    kind: ClassVar[str] = "consumer_state"
    consumer: str
    state: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class QueueDepth(FlowEvent):
    """Ready and unacknowledged message counts of a queue, as the broker reports them."""

    kind: ClassVar[str] = "queue_depth"
    queue: str
    ready: int
    unacked: int


@dataclass(frozen=True, kw_only=True, slots=True)
class BrokerStatus(FlowEvent):
    """Which broker, whether it behaves like RabbitMQ, and its connection state."""

    kind: ClassVar[str] = "broker_status"
    broker: str
    state: str
    faithful: bool
    detail: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Notice(FlowEvent):
    """Something a user should read: a bad input refused, a broker difference, a warning."""

    kind: ClassVar[str] = "notice"
    level: str
    text: str


RESENT = "resent after reconnecting: the broker may hold it twice"
"""The producer's warning Notice text for a publish sent again after a lost connection (the ledger
reads it: a second copy of that message in a queue is then a duplicate, not a redelivery)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TopologyChanged(FlowEvent):
    """An exchange, queue, binding or consumer was declared or deleted on the broker, in stream order.

    `origin` says who asked: the scenario at start, an edit in the app, a lesson step, a replay.
    JSON: `"event": "topology"`, `op`, `kind` (exchange | queue | binding | consumer), then the
    entity's own fields (see TopologyChange.fields).
    """

    kind: ClassVar[str] = "topology"
    change: TopologyChange
    origin: str = "scenario"

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "msg": None,
            "op": self.change.op,
            "kind": self.change.kind,
            **self.change.fields(),
            "origin": self.origin,
            "ts": self.ts,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ScriptOutput(FlowEvent):
    """One line the program run by `--run` wrote to stdout or stderr (`stream`), whole, in order."""

    kind: ClassVar[str] = "script_output"
    stream: str
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ScriptEnded(FlowEvent):
    """The program run by `--run` ended: `exit_code` as `python SCRIPT.py` would return it (0, its
    SystemExit code, or 1 with `error` and `traceback` for an exception it raised)."""

    kind: ClassVar[str] = "script_ended"
    script: str
    exit_code: int
    error: str = ""
    traceback: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class InternalError(FlowEvent):
    """A bug: a thread of mqscope's own (a loop, the broker's TTL timer, the UI waker) hit an
    exception it was not written for. `where` names the thread, `error` is one line, `traceback` the
    full text. JSON: `"event": "error"`. Headless exits 1 on it; the TUI shows an error screen."""

    kind: ClassVar[str] = "error"
    where: str
    error: str
    traceback: str = ""


class EventStream:
    """A thread-safe FIFO of events: any thread puts, one reader drains in batches.

    put() takes no lock: deque appends and pops are thread-safe, and a lock shared by the producer,
    the consumers and the reader made them queue up behind each other (a lock convoy) at thousands of
    events a second. Only a put onto a drained stream touches the wake-up Event.
    """

    def __init__(self, maxlen: int | None = None) -> None:
        self._items: deque[FlowEvent] = deque(maxlen=maxlen)
        self._waiting = threading.Event()
        self._drained = threading.Event()
        self._taken = 0
        self.max_lag: float | None = None
        """Seconds the oldest undrained event may wait before `keep_pace` holds the writer back (None:
        never). A UI sets it so the broker cannot outrun what it can show: a backlog that grows for
        ever, with seconds between an event and the screen (benchmarks/NOTES.md)."""
        self.tees: list[Callable[[EventStream, Sequence[FlowEvent]], None]] = []
        """Called with the stream and each batch drained from it, in order, by the reader (a recorder
        writes it to a file): whoever reads the stream, they see what every view sees, and nothing
        folds it twice. A reset's new stream takes the old one's tees (Engine.renewed)."""

    @property
    def total(self) -> int:
        """How many events were ever put and not dropped by maxlen (for measuring backlog)."""
        return self._taken + len(self._items)

    def put(self, event: FlowEvent) -> None:
        self._items.append(event)
        if not self._waiting.is_set():  # only a reader that found the stream empty needs waking
            self._waiting.set()

    def drain(self, limit: int | None = None) -> list[FlowEvent]:
        """Take up to `limit` events (all when None), oldest first. One reader at a time."""
        items = self._items
        count = len(items) if limit is None else min(limit, len(items))
        out = [items.popleft() for _ in range(count)]
        self._taken += count
        self._drained.set()
        if out:
            for tee in self.tees:
                tee(self, out)
        return out

    def keep_pace(self, should_stop: Callable[[], bool]) -> None:
        """Block (the producer, before each publish) while the oldest undrained event is older than
        `max_lag`: a reader that cannot keep up slows the writer down to its own pace. Returns at
        once when no bound is set, the stream is drained enough, or `should_stop()` says so."""
        limit = self.max_lag
        while limit is not None and not should_stop():
            self._drained.clear()  # before looking: a drain from here on wakes the wait below
            try:
                oldest = self._items[0].ts
            except IndexError:  # drained meanwhile
                return
            if time.monotonic() - oldest <= limit:
                return
            self._drained.wait(0.1)  # 0.1 s: a stop stays prompt when nobody drains

    def wait(self, timeout: float) -> bool:
        """Block until at least one event is waiting, or `timeout` passes; True when one is."""
        if self._items:
            return True
        self._waiting.clear()
        if not self._items:  # a put that saw the flag still set, before the clear, shows up here
            self._waiting.wait(timeout)
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)
