"""Which publish a traced delivery belongs to, and when an untraced ack settled a copy.

A trace carries no id of the message in general, so observe gives each publish an id of its own and
matches deliveries to it by this rule:
  1. A delivery belongs to a copy RabbitMQ routed to that queue with the same fingerprint (exchange,
     routing keys, message_id, correlation_id, timestamp and body: firehose.Trace.fingerprint).
  2. Among such copies, the oldest goes first (a queue is FIFO; identical messages are
     indistinguishable anyway, so which of them is which cannot be wrong in any way that shows).
  3. A redelivered delivery is first matched among the copies of that queue already delivered and
     not known settled (it was requeued: a Requeued comes before it), then among copies the depth
     poll took for acked (a requeue looks like an ack to the poll: likewise), then as in 1.
  4. A delivery matching nothing was published before observe started, or is a dead-lettered copy
     (dead-lettering is not traced): it becomes a message of its own, and a notice says so once.
RabbitMQ does not trace acks (rabbitmq-server#12878). A queue's unacknowledged count, polled, settles
copies: when observe holds N delivered copies of a queue and the broker reports U unacked, the N-U
oldest were acked (or rejected). U counts copies whose delivery trace is still on its way, and
copies delivered before observe started, so the rule can only settle late, never early.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.backends.base import Emit
from core.events import Acked, Delivered, Dropped, Notice, Published, QueueDepth, Requeued, Routed
from core.observe.firehose import Trace

GONE_AFTER = 2
"""Snapshots in a row a queue must be missing from before its copies are given up (a new queue has
no counts in the management API until its first statistics come in)."""
GONE = "its queue is gone (whether it was acked first is not traced)"
SETTLED_KEPT = 1024
"""Per queue, copies settled by the depth poll that a redelivery may still find (rule 3)."""

ConsumerName = Callable[[str, Trace], str]
"""(queue, delivery trace) -> the consumer's name as the diagram knows it."""


def connection_consumer(_queue: str, trace: Trace) -> str:
    """A consumer named by its connection and channel, as the trace reports it."""
    return f"{trace.connection or 'connection'} ch{trace.channel}"


@dataclass
class _Queue:
    """What observe knows of one queue's copies (message ids, oldest first)."""

    ready: dict[tuple[Any, ...], deque[str]] = field(default_factory=dict)
    held: OrderedDict[str, tuple[tuple[Any, ...], str]] = field(default_factory=OrderedDict)
    """msg -> (fingerprint, consumer) of copies delivered and not yet known settled."""
    settled: OrderedDict[str, tuple[tuple[Any, ...], str]] = field(default_factory=OrderedDict)
    depth: tuple[int, int] | None = None
    missing: int = 0
    """Depth snapshots in a row that did not list this queue."""


class Correlator:
    """Turns traces and depth snapshots into the usual flow events (see the module doc's rules)."""

    def __init__(
        self, emit: Emit, *, consumer_name: ConsumerName = connection_consumer, prefix: str = "o"
    ) -> None:
        self.emit = emit
        self.consumer_name = consumer_name
        self._ids = itertools.count(1)
        self._prefix = prefix
        self._queues: dict[str, _Queue] = {}
        self._unmatched_said: set[str] = set()
        self.published = 0
        self.delivered = 0

    def _queue(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = _Queue()
        return q

    def _new_id(self, trace: Trace) -> str:
        given = trace.properties.get("message_id")
        return f"{self._prefix}{next(self._ids)}" + (f":{given}" if given else "")

    def publish(self, trace: Trace) -> str:
        """A publish trace: Published, then Routed to the queues RabbitMQ reports."""
        msg = self._new_id(trace)
        self.published += 1
        key = trace.routing_key
        self.emit(
            Published(
                msg=msg,
                exchange=trace.exchange,
                routing_key=key,
                body=trace.shown_body(),
                headers=trace.headers,
            )
        )
        self.emit(Routed(msg=msg, exchange=trace.exchange, routing_key=key, queues=trace.routed_queues))
        fingerprint = trace.fingerprint
        for name in trace.routed_queues:
            self._queue(name).ready.setdefault(fingerprint, deque()).append(msg)
        return msg

    def deliver(self, trace: Trace) -> str:
        """A delivery trace: Delivered for the copy it matches (module doc, rules 1-4)."""
        name = trace.queue or ""
        q = self._queue(name)
        fingerprint = trace.fingerprint
        consumer = self.consumer_name(name, trace)
        self.delivered += 1
        msg = None
        if trace.redelivered:
            msg = _take(q.held, fingerprint) or _take(q.settled, fingerprint)
            if msg is not None:
                self.emit(Requeued(msg=msg, queue=name, reason="requeued (seen on its redelivery)"))
        if msg is None:
            waiting = q.ready.get(fingerprint)
            if waiting:
                msg = waiting.popleft()
                if not waiting:
                    del q.ready[fingerprint]
        if msg is None:
            msg = self._new_id(trace)
            self._unmatched(name)
        q.held[msg] = (fingerprint, consumer)
        self.emit(
            Delivered(
                msg=msg,
                queue=name,
                consumer=consumer,
                redelivered=trace.redelivered,
                headers=trace.headers,
                properties=trace.shown_properties(),
            )
        )
        return msg

    def _unmatched(self, queue: str) -> None:
        if queue in self._unmatched_said:
            return
        self._unmatched_said.add(queue)
        text = (
            f"{queue}: a delivery of a message observe did not see published (published before "
            "observe started, or dead-lettered: RabbitMQ does not trace dead-lettering)"
        )
        self.emit(Notice(level="info", text=text))

    def depths(self, snapshot: Mapping[str, tuple[int, int] | None]) -> None:
        """Queue depths as the broker reports them (ready, unacked; None: the queue exists but has no
        counts yet): settles acked copies, and gives up the copies of a queue that is gone."""
        for name, counts in snapshot.items():
            q = self._queue(name)
            q.missing = 0
            if counts is None:
                continue
            ready, unacked = counts
            if q.depth != (ready, unacked):
                q.depth = (ready, unacked)
                self.emit(QueueDepth(queue=name, ready=ready, unacked=unacked))
            for _ in range(len(q.held) - unacked):
                msg, (fingerprint, consumer) = q.held.popitem(last=False)
                q.settled[msg] = (fingerprint, consumer)
                if len(q.settled) > SETTLED_KEPT:
                    q.settled.popitem(last=False)
                self.emit(Acked(msg=msg, queue=name, consumer=consumer))
        for name in [n for n in self._queues if n not in snapshot]:
            q = self._queues[name]
            q.missing += 1
            if q.missing >= GONE_AFTER:
                del self._queues[name]
                for msg in [*q.held, *(m for waiting in q.ready.values() for m in waiting)]:
                    self.emit(Dropped(msg=msg, queue=name, reason=GONE))

    def held(self, queue: str) -> int:
        """Copies of `queue` delivered and not yet known settled."""
        q = self._queues.get(queue)
        return len(q.held) if q else 0

    def waiting(self, queue: str) -> int:
        """Copies routed to `queue` whose delivery was not traced yet."""
        q = self._queues.get(queue)
        return sum(len(d) for d in q.ready.values()) if q else 0


def _take(copies: OrderedDict[str, tuple[tuple[Any, ...], str]], fingerprint: tuple[Any, ...]) -> str | None:
    """The oldest copy with this fingerprint, taken out (a linear scan: only redeliveries come here)."""
    for msg, (fp, _consumer) in copies.items():
        if fp == fingerprint:
            del copies[msg]
            return msg
    return None
