"""What the app knows about the running scenario, rebuilt from the event stream (no Textual here).

The inspector, the status line and the app's controls read this model (the flow canvas keeps its
own counts in tui/widgets/flow_model.py); only the per-frame pump feeds it. Each message keeps a short
history per queue copy, so the inspector can say where every copy went and what became of it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.events import (
    Acked,
    BrokerStatus,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    Published,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
)
from core.settlement import SettlementTracker
from core.topology import Topology

MAX_MESSAGES = 5000
"""Messages remembered for the inspector; older ones are forgotten first (bursts are large)."""


@dataclass
class QueueStats:
    """Ready and unacked as the broker last reported them, plus what passed through."""

    ready: int = 0
    unacked: int = 0
    routed: int = 0
    acked: int = 0


@dataclass
class ConsumerStats:
    """A consumer's state and its running totals."""

    state: str = "starting"
    detail: str = ""
    current: str | None = None
    processed: int = 0
    acked: int = 0
    requeued: int = 0
    dead_lettered: int = 0
    dropped: int = 0

    def start(self, msg: str, queue: str) -> None:
        """A delivery reached its handler: working on it (no event says so; `delivered` means it)."""
        self.current = msg
        if self.state in ("idle", "working"):
            self.state, self.detail = "working", f"{msg} from {queue}"

    def finish(self, msg: str) -> None:
        """The message in hand was acked or rejected: idle again."""
        if self.current == msg:
            self.current = None
            if self.state == "working":
                self.state, self.detail = "idle", ""


@dataclass
class MessageRecord:
    """One published message and the story of each of its copies, queue by queue."""

    msg: str
    exchange: str
    routing_key: str
    body: Any
    headers: dict[str, Any]
    queues: tuple[str, ...] | None = None
    """Where it was routed (None until the broker said); () means unroutable."""
    route_source: str = ""
    redelivered: bool = False
    consumers: set[str] = field(default_factory=set)
    history: dict[str, list[FlowEvent]] = field(default_factory=dict)
    """Per queue (or "-" for the exchange), the events of that copy in order (see step_text)."""
    notes: list[str] = field(default_factory=list)


@dataclass
class BrokerInfo:
    """The status line's facts about the broker."""

    url: str = ""
    state: str = "starting"
    faithful: bool | None = None
    detail: str = ""


class FlowState:
    """Counts per queue and consumer, broker status, and the message records; fed in batches."""

    def __init__(self, topology: Topology, broker_url: str = "") -> None:
        self.topology = topology
        self.broker = BrokerInfo(url=broker_url)
        self.queues = {q.name: QueueStats() for q in topology.queues}
        self.consumers = {c.name: ConsumerStats() for c in topology.consumers}
        self.messages: OrderedDict[str, MessageRecord] = OrderedDict()
        self.tracker = SettlementTracker()
        self.published = 0
        self.events_seen = 0
        self.last_msg: str | None = None
        self.unsettled: set[str] = set()
        """Published messages with a copy still open (kept incrementally: bursts are large)."""

    # -- feeding ------------------------------------------------------------------------------
    def feed_all(self, events: Iterable[FlowEvent]) -> None:
        for event in events:
            self.feed(event)

    def feed(self, event: FlowEvent) -> None:
        """Apply one event to the counts and the message records (called per event: keep it lean)."""
        self.events_seen += 1
        self.tracker.feed(event)
        msg = event.msg
        if msg is not None and msg in self.unsettled:
            fate = self.tracker.messages.get(msg)
            if fate is None or fate.settled:
                self.unsettled.discard(msg)
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _published(self, event: Published) -> None:
        self.published += 1
        record = MessageRecord(
            event.msg or "?",
            event.exchange,
            event.routing_key,
            event.body,
            dict(event.headers),
        )
        self.messages[record.msg] = record
        self.unsettled.add(record.msg)
        self.last_msg = record.msg
        if len(self.messages) > MAX_MESSAGES:
            self.messages.popitem(last=False)

    def _depth(self, event: QueueDepth) -> None:
        stats = self.queues.setdefault(event.queue, QueueStats())
        stats.ready, stats.unacked = event.ready, event.unacked

    def _broker(self, event: BrokerStatus) -> None:
        self.broker = BrokerInfo(event.broker, event.state, event.faithful, event.detail)

    def _consumer_state(self, event: ConsumerState) -> None:
        stats = self.consumers.setdefault(event.consumer, ConsumerStats())
        stats.state, stats.detail = event.state, event.detail
        stats.current = None  # reported states are never "working": that one is derived

    def _record(self, where: str, event: FlowEvent) -> MessageRecord | None:
        """The message's record with this event added to the copy's story (formatted only when shown)."""
        record = self.messages.get(event.msg or "")
        if record is not None:
            record.history.setdefault(where, []).append(event)
        return record

    def _routed(self, event: Routed) -> None:
        for name in event.queues:
            self.queues.setdefault(name, QueueStats()).routed += 1
        record = self.messages.get(event.msg or "")
        if record is None or record.queues is not None:
            return
        record.queues, record.route_source = event.queues, event.source
        for name in event.queues or ("-",):
            record.history.setdefault(name, []).append(event)
        if event.rabbitmq_queues is not None:
            wanted = ", ".join(event.rabbitmq_queues) or "no queue"
            record.notes.append(f"RabbitMQ would have routed it to {wanted}")

    def _delivered(self, event: Delivered) -> None:
        consumer = self.consumers.setdefault(event.consumer, ConsumerStats())
        consumer.start(event.msg or "", event.queue)
        record = self._record(event.queue, event)
        if record is not None:
            record.redelivered = record.redelivered or event.redelivered
            record.consumers.add(event.consumer)

    def _acked(self, event: Acked) -> None:
        self.queues.setdefault(event.queue, QueueStats()).acked += 1
        consumer = self.consumers.setdefault(event.consumer, ConsumerStats())
        consumer.processed += 1
        consumer.acked += 1
        consumer.finish(event.msg or "")
        self._record(event.queue, event)

    def _rejected(self, event: Rejected) -> None:
        consumer = self.consumers.setdefault(event.consumer, ConsumerStats())
        consumer.processed += 1
        consumer.finish(event.msg or "")
        if event.action == "requeue":
            consumer.requeued += 1
        elif event.action == "dead_letter":
            consumer.dead_lettered += 1
        else:
            consumer.dropped += 1
        self._record(event.queue, event)

    def _copy_event(self, event: Requeued | DeadLettered | Dropped | Expired) -> None:
        self._record(event.queue, event)

    def _returned(self, event: Returned) -> None:
        self._record("-", event)

    # -- questions ----------------------------------------------------------------------------
    def fate(self, msg: str) -> dict[str, str]:
        """How each closed copy of `msg` ended (queue -> outcome), from the settlement tracker."""
        fate = self.tracker.messages.get(msg)
        return dict(fate.outcomes) if fate is not None else {}

    def open_copies(self, msg: str) -> set[str]:
        fate = self.tracker.messages.get(msg)
        return set(fate.open_copies) if fate is not None else set()

    @property
    def all_settled(self) -> bool:
        return not self.unsettled

    def quiet(self) -> bool:
        """Everything published is settled, queues report empty and no consumer is mid-message."""
        return (
            not self.unsettled
            and all(q.ready == 0 and q.unacked == 0 for q in self.queues.values())
            and all(c.state in ("idle", "paused", "stopped") for c in self.consumers.values())
        )

    def messages_through(self, *, queue: str | None = None, consumer: str | None = None) -> list[str]:
        """Most recent message ids that touched a queue or a consumer (newest first)."""
        out = []
        for record in reversed(self.messages.values()):
            if (queue is not None and queue in record.history) or (
                consumer is not None and consumer in record.consumers
            ):
                out.append(record.msg)
            if len(out) >= 8:
                break
        return out


_HANDLERS: dict[type[FlowEvent], Callable[[FlowState, Any], None]] = {
    Published: FlowState._published,
    QueueDepth: FlowState._depth,
    ConsumerState: FlowState._consumer_state,
    BrokerStatus: FlowState._broker,
    Routed: FlowState._routed,
    Delivered: FlowState._delivered,
    Acked: FlowState._acked,
    Rejected: FlowState._rejected,
    Requeued: FlowState._copy_event,
    DeadLettered: FlowState._copy_event,
    Dropped: FlowState._copy_event,
    Expired: FlowState._copy_event,
    Returned: FlowState._returned,
}
"""Dispatch by exact event type: one dict lookup per event instead of a chain of isinstance checks."""


def step_text(where: str, event: FlowEvent) -> str:
    """One line of a copy's story, for the inspector."""
    match event:
        case Routed():
            if where == "-":
                return "unroutable: no binding matched, dropped at the exchange"
            return f"routed to {where}"
        case Delivered():
            again = " (redelivered)" if event.redelivered else ""
            return f"delivered to {event.consumer}{again}"
        case Acked():
            return f"acknowledged by {event.consumer}"
        case Rejected():
            reason = f": {event.error}" if event.error else ""
            return f"failed in {event.consumer}{reason} -> {event.action}"
        case Requeued():
            return f"back in {event.queue} ({event.reason})"
        case DeadLettered():
            to = ", ".join(event.queues) or event.exchange or "the default exchange"
            return f"dead-lettered ({event.reason}) to {to}"
        case Dropped():
            return f"dropped: {event.reason}"
        case Expired():
            return "expired (TTL)"
        case Returned():
            return f"returned to the producer ({event.reason})"
    return event.kind
