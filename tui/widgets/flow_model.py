"""What the diagram shows at rest: counts per exchange, queue and consumer, folded from flow events.

Plain Python (no Textual). Counts move the moment an event arrives; tokens (flow_tokens) only animate
the journey. Broker-reported `QueueDepth` resynchronises ready/unacked, local events adjust in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.events import (
    Acked,
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
from core.topology import BindingSpec, Topology


@dataclass
class ExchangeStats:
    published: int = 0
    unroutable: int = 0
    returned: int = 0


@dataclass
class QueueStats:
    """`waiting` holds the ids of ready copies we know of, oldest first (dict as an ordered set)."""

    ready: int = 0
    unacked: int = 0
    waiting: dict[str, None] = field(default_factory=dict)
    expired: int = 0
    dropped: int = 0
    dead_lettered: int = 0


@dataclass
class ConsumerStats:
    state: str = "idle"
    detail: str = ""
    in_hand: list[tuple[str, str]] = field(default_factory=list)
    """(message id, queue) copies delivered and not yet settled, oldest first."""
    processed: int = 0
    acked: int = 0
    requeued: int = 0
    dead_lettered: int = 0
    dropped: int = 0

    @property
    def current(self) -> str | None:
        return self.in_hand[-1][0] if self.in_hand else None


class FlowModel:
    """Counts for every node of one topology; `feed` events in order."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.exchanges = {e.name: ExchangeStats() for e in topology.exchanges}
        self.queues = {q.name: QueueStats() for q in topology.queues}
        self.consumers = {c.name: ConsumerStats() for c in topology.consumers}
        self.holders: dict[tuple[str, str], str] = {}
        """(message id, queue) -> consumer holding that copy unacked."""
        self.unacked_cap = _unacked_caps(topology)
        """Queue -> the most copies its consumers' prefetch lets be unacked (None: no limit)."""

    def feed_all(self, events: Iterable[FlowEvent]) -> None:
        for event in events:
            self.feed(event)

    def feed(self, event: FlowEvent) -> None:
        m = event.msg or ""
        match event:
            case Published():
                if (ex := self.exchanges.get(event.exchange)) is not None:
                    ex.published += 1
            case Routed():
                if not event.queues and (ex := self.exchanges.get(event.exchange)) is not None:
                    ex.unroutable += 1
                for qn in event.queues:
                    self._enqueue(qn, m)
            case Returned():
                if (ex := self.exchanges.get(event.exchange)) is not None:
                    ex.returned += 1
            case Delivered():
                q = self.queues.get(event.queue)
                if q is not None:
                    q.waiting.pop(m, None)
                    q.ready = max(0, q.ready - 1)
                    # A depth poll between the broker's delivery and this event already counted the
                    # copy: never count past what prefetch allows (a "pf 1" queue showed 2 unacked).
                    cap = self.unacked_cap.get(event.queue)
                    if cap is None or q.unacked < cap:
                        q.unacked += 1
                self.holders[(m, event.queue)] = event.consumer
                if (c := self.consumers.get(event.consumer)) is not None:
                    c.in_hand.append((m, event.queue))
                    if c.state in ("idle", "working"):  # working is derived: no event says it
                        c.state, c.detail = "working", f"{m} from {event.queue}"
            case Acked():
                self._release(m, event.queue)
                if (c := self.consumers.get(event.consumer)) is not None:
                    c.acked += 1
                    c.processed += 1
            case Rejected():
                if (c := self.consumers.get(event.consumer)) is not None:
                    c.processed += 1
                    if event.action == "requeue":
                        c.requeued += 1
                    elif event.action == "dead_letter":
                        c.dead_lettered += 1
                    else:
                        c.dropped += 1
                # The consumer lets go of it now, whatever follows (requeue, dead letter or drop).
                self._release(m, event.queue)
            case Requeued():
                holder = self._release(m, event.queue)
                # A crash or disconnect: no Rejected came first, so count it here.
                crashed = holder is not None and event.reason != "rejected"
                if crashed and (c := self.consumers.get(holder or "")) is not None:
                    c.requeued += 1
                self._enqueue(event.queue, m)
            case DeadLettered():
                self._release(m, event.queue)
                self._unready(event.queue, m)
                if (q := self.queues.get(event.queue)) is not None:
                    q.dead_lettered += 1
                for qn in event.queues:
                    self._enqueue(qn, m)
            case Expired():
                self._unready(event.queue, m)
                if (q := self.queues.get(event.queue)) is not None:
                    q.expired += 1
            case Dropped():
                self._release(m, event.queue)
                self._unready(event.queue, m)
                if (q := self.queues.get(event.queue)) is not None:
                    q.dropped += 1
            case ConsumerState():
                if (c := self.consumers.get(event.consumer)) is not None:
                    c.state, c.detail = event.state, event.detail
            case QueueDepth():
                if (q := self.queues.get(event.queue)) is not None:
                    q.ready, q.unacked = event.ready, event.unacked
                    while len(q.waiting) > q.ready:
                        q.waiting.pop(next(iter(q.waiting)))
            case _:
                pass

    def _enqueue(self, queue: str, msg: str) -> None:
        q = self.queues.get(queue)
        if q is not None:
            q.waiting[msg] = None
            q.ready += 1

    def _unready(self, queue: str, msg: str) -> None:
        q = self.queues.get(queue)
        if q is not None and msg in q.waiting:
            del q.waiting[msg]
            q.ready = max(0, q.ready - 1)

    def _release(self, msg: str, queue: str) -> str | None:
        """Close the unacked copy (msg, queue): returns who held it."""
        holder = self.holders.pop((msg, queue), None)
        if holder is None:
            return None
        if (q := self.queues.get(queue)) is not None:
            q.unacked = max(0, q.unacked - 1)
        c = self.consumers.get(holder)
        if c is not None and (msg, queue) in c.in_hand:
            c.in_hand.remove((msg, queue))
            if not c.in_hand and c.state == "working":
                c.state, c.detail = "idle", ""
        return holder


def _unacked_caps(topology: Topology) -> dict[str, int | None]:
    """Per queue, the sum of its consumers' prefetch; None when one of them has no limit (0)."""
    caps: dict[str, int | None] = {}
    for consumer in topology.consumers:
        for queue in consumer.queues:
            known = caps.get(queue, 0)
            caps[queue] = None if known is None or consumer.prefetch <= 0 else known + consumer.prefetch
    return caps


def describe_node(model: FlowModel, kind: str, name: str) -> str:
    """A few plain lines about one node, for the canvas's hover tooltip (shown literally, never markup)."""
    topology = model.topology
    if kind == "exchange" and (ex := topology.exchange(name)) is not None:
        stats = model.exchanges[name]
        lines = [f"{name} ({ex.type} exchange)"]
        lines.append(
            f"published {stats.published} · unroutable {stats.unroutable} · returned {stats.returned}"
        )
        if ex.alternate_exchange:
            lines.append(f"alternate exchange: {ex.alternate_exchange}")
        return "\n".join(lines)
    if kind == "queue" and (q := topology.queue(name)) is not None:
        depth = model.queues[name]
        lines = [name]
        for b in q.bindings:
            spec = topology.exchange(b.exchange)
            lines.append(f"bound to {b.exchange} with {binding_label(spec.type if spec else '', b)}")
        lines.append(f"ready {depth.ready} · unacked {depth.unacked}")
        extras = []
        if q.message_ttl is not None:
            extras.append(f"ttl {q.message_ttl:g}s")
        if q.max_length is not None:
            extras.append(f"max length {q.max_length}")
        if q.dead_letter_exchange:
            extras.append(f"dead letters go to {q.dead_letter_exchange}")
        if extras:
            lines.append(" · ".join(extras))
        consumers = [c.name for c in topology.consumers if name in c.queues]
        lines.append("consumed by " + (", ".join(consumers) if consumers else "nobody"))
        return "\n".join(lines)
    if kind == "consumer" and (c := topology.consumer(name)) is not None:
        s = model.consumers[name]
        state = f"{s.state} ({s.detail})" if s.detail else s.state
        return "\n".join(
            [
                f"{name} (prefetch {c.prefetch}, on failure: {c.on_failure})",
                f"state: {state}",
                f"consumes {', '.join(c.queues)}",
                f"processed {s.processed} · acked {s.acked} · requeued {s.requeued} · "
                f"dead-lettered {s.dead_lettered} · dropped {s.dropped}",
            ]
        )
    return name


def binding_label(exchange_type: str, binding: BindingSpec) -> str:
    if exchange_type == "headers":
        return " ".join(f"{k}={v}" for k, v in binding.arguments.items()) or "(no arguments)"
    if exchange_type == "fanout":
        return "(fanout: every message)"
    return repr(binding.routing_key)
