"""The ledger: the one fold of the event stream into per-copy records, per-node counts and settlement.

Headless exit codes, the inspector, the status line, tooltips and the canvas all read a Ledger, so they
cannot disagree. The canvas keeps a second Ledger fed later (when each token arrives), not a second fold.
Records of finished messages are bounded (`keep`), so memory does not grow with the number of messages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from core.events import (
    RESENT,
    Acked,
    BrokerStatus,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    Notice,
    Published,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
    TopologyChanged,
)
from core.records import (
    BETWEEN,
    CLOSED,
    EXCHANGE,
    HELD,
    READY,
    BrokerInfo,
    ConsumerCounts,
    Copy,
    CopyTally,
    ExchangeCounts,
    MessageRecord,
    QueueCounts,
)
from core.topology import Topology
from core.topology_changes import apply_change

KEEP_FINISHED = 5000
"""Finished messages whose records are kept by default (the inspector shows the newest of them)."""


class Ledger:
    """Feed it events in order; read counts, records and settlement from it.

    `keep`: finished records kept (newest first to stay); unfinished ones are never forgotten.
    `stories`: keep each copy's events for the inspector (headless and the canvas do not need them).
    """

    def __init__(
        self, topology: Topology, *, broker_url: str = "", keep: int = KEEP_FINISHED, stories: bool = True
    ) -> None:
        self.topology = topology
        self.keep = keep
        self.stories = stories
        self.broker = BrokerInfo(url=broker_url)
        self.exchanges = {e.name: ExchangeCounts() for e in topology.exchanges}
        self.queues = {q.name: QueueCounts() for q in topology.queues}
        self.consumers = {c.name: ConsumerCounts() for c in topology.consumers}
        self.unacked_cap = _unacked_caps(topology)
        """Queue -> the most copies its consumers' prefetch lets be unacked (None: no limit)."""
        self.records: dict[str, MessageRecord] = {}
        """Message id -> record, in the order first seen (publish order for our own messages)."""
        self.published = 0
        self.delivered = 0
        """Deliveries to consumers (redeliveries too): the status line's delivered rate reads it."""
        self.last_msg: str | None = None
        self._unsettled: dict[str, None] = {}
        """Published and not settled, in publish order (an ordered set: bursts are large)."""
        self._finished: deque[str] = deque()
        """Finished records, oldest first: the first to be forgotten past `keep`."""
        self._deleted_queues: set[str] = set()
        """Queues deleted while running: a copy requeued into one has nowhere to go."""

    # -- feeding ------------------------------------------------------------------------------
    def feed_all(self, events: Iterable[FlowEvent]) -> None:
        handlers = _HANDLERS
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event)

    def feed(self, event: FlowEvent) -> None:
        """Apply one event (called per event: one dict lookup, then only what the event changes)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _published(self, event: Published) -> None:
        msg = event.msg or ""
        record = self.records.get(msg)
        if record is None:
            record = self.records[msg] = MessageRecord(msg)
        elif record.published:
            return  # a resend after a lost broker announces nothing new
        record.exchange, record.routing_key, record.body = event.exchange, event.routing_key, event.body
        if event.headers:
            record.headers = dict(event.headers)
        record.published = True
        record.finished = False  # ours now: finished only once routed and closed
        self.published += 1
        self.last_msg = msg
        (self.exchanges.get(event.exchange) or self._exchange(event.exchange)).published += 1
        if not record.settled:
            self._unsettled[msg] = None

    def _routed(self, event: Routed) -> None:
        record = self.records.get(event.msg or "") or self._record(event.msg)
        queues, msg = event.queues, record.msg
        first = record.queues is None  # else routing is known already (a second report, or a return)
        if first:
            record.queues, record.route_source = queues, event.source
            if event.rabbitmq_queues is not None:
                wanted = ", ".join(event.rabbitmq_queues) or "no queue"
                record.notes.append(f"RabbitMQ would have routed it to {wanted}")
        if not queues:
            self._exchange(event.exchange).unroutable += 1
            if first:
                self._exchange_outcome(record, event, "unroutable")
        counts, copies = self.queues, record.copies
        for name in queues:
            q = counts.get(name) or self._queue(name)
            q.routed += 1
            if not first:
                continue
            copy = copies.get(name)
            if copy is None:  # the usual case: no event of this copy raced ahead of its routing
                copy = self._open(record, name, READY)
                q.waiting[msg] = None
                q.ready += 1
                if copy.steps is not None:
                    copy.steps.append(event)
            elif copy.steps is not None:
                copy.steps.insert(0, event)  # a fast consumer won the race: routing still reads first
        if first:
            self._check(record)

    def _returned(self, event: Returned) -> None:
        record = self._record(event.msg)
        self._exchange(event.exchange).returned += 1
        if record.queues is None:
            record.queues = ()
        self._exchange_outcome(record, event, "returned")
        self._check(record)

    def _delivered(self, event: Delivered) -> None:
        record = self.records.get(event.msg or "") or self._record(event.msg)
        self.delivered += 1
        if event.redelivered:
            record.redelivered = True
        if event.consumer not in record.consumers:
            record.consumers = (*record.consumers, event.consumer)
        copy = record.copies.get(event.queue)
        q = self.queues.get(event.queue) or self._queue(event.queue)
        if copy is None or copy.status == CLOSED:
            if copy is None:
                copy = self._open(record, event.queue, HELD)
            else:
                if copy.outcome == "acked" and copy.origin is None:
                    self._acked_copy_back(record, copy, q, event)
                self._reopen(record, copy)
            if record.queues is not None or not record.published:
                q.ready = max(0, q.ready - 1)  # a copy we never saw enter (the broker's depth did)
        elif copy.status == READY:
            q.waiting.pop(record.msg, None)
            q.ready = max(0, q.ready - 1)
        elif copy.status == HELD:
            if record.resent and not event.redelivered and copy.holder is not None:
                self._duplicate_in_hand(record, copy, q, event)
                return
            self._release(record.msg, copy)  # delivered again without a word in between
        copy.status, copy.holder = HELD, event.consumer
        self._hold(record.msg, q, event)
        if copy.steps is not None:
            copy.steps.append(event)

    def _acked_copy_back(self, record: MessageRecord, copy: Copy, q: QueueCounts, event: Delivered) -> None:
        """A copy closed as acked is delivered again. Flagged redelivered: the ack was lost with the
        connection and RabbitMQ gave the copy back (at-least-once). Not flagged: a second copy the
        producer's resend put in the queue. Either way the message is open again until this copy is
        acked, and that ack is not counted as another acked copy."""
        if event.redelivered:
            q.acks_lost += 1
            note = f"{copy.queue}: ack lost with the connection: redelivered"
        else:
            q.duplicates += 1
            why = "resent" if record.resent else "a second copy"
            note = f"{copy.queue}: duplicate ({why})"
        record.notes.append(note)
        copy.again = True
        if record.published:
            self._unsettled[record.msg] = None  # open again: settled once this copy is acked

    def _duplicate_in_hand(self, record: MessageRecord, copy: Copy, q: QueueCounts, event: Delivered) -> None:
        """A resend's second copy delivered while the first is still unacked: both need an ack."""
        q.duplicates += 1
        record.notes.append(f"{copy.queue}: duplicate (resent)")
        copy.extra += 1
        self._hold(record.msg, q, event)
        self._step(copy, event)

    def _hold(self, msg: str, q: QueueCounts, event: Delivered) -> None:
        # A depth poll between the broker's delivery and this event already counted the copy:
        # never count past what prefetch allows (a "pf 1" queue showed 2 unacked).
        cap = self.unacked_cap.get(event.queue)
        if cap is None or q.unacked < cap:
            q.unacked += 1
        c = self.consumers.get(event.consumer) or self._consumer(event.consumer)
        c.in_hand.append((msg, event.queue))
        if c.state in ("idle", "working"):  # working is derived: no event says it
            c.state, c.detail = "working", f"{msg} from {event.queue}"

    def _acked(self, event: Acked) -> None:
        record = self.records.get(event.msg or "") or self._record(event.msg)
        copy = record.copies.get(event.queue) or self._copy(record, event.queue)
        c = self.consumers.get(event.consumer) or self._consumer(event.consumer)
        c.processed += 1
        if copy.extra and copy.status == HELD:  # one of a resend's two copies in hand: one left
            copy.extra -= 1
            self._let_go(record.msg, copy.queue, event.consumer)
            if copy.holder == event.consumer:  # the other copy's holder holds the copy now
                held = (record.msg, copy.queue)
                copy.holder = next((n for n, h in self.consumers.items() if held in h.in_hand), None)
            self._step(copy, event)
            return
        if copy.holder is not None:
            self._release(record.msg, copy)
        if copy.again:  # this copy's first ack was counted already: settle, count nothing twice
            copy.again = False
        else:
            c.acked += 1
            (self.queues.get(event.queue) or self._queue(event.queue)).acked += 1
        self._close(record, copy, "acked")
        if copy.steps is not None:
            copy.steps.append(event)
        self._check(record)

    def _rejected(self, event: Rejected) -> None:
        record = self._record(event.msg)
        copy = self._copy(record, event.queue)
        c = self._consumer(event.consumer)
        c.processed += 1
        if event.action == "requeue":
            c.requeued += 1
        elif event.action == "dead_letter":
            c.dead_lettered += 1
        else:
            c.dropped += 1
        # The consumer lets go of it now, whatever follows (requeue, dead letter or drop).
        self._release(record.msg, copy)
        if event.action == "drop":
            self._close(record, copy, "dropped by consumer")
        elif copy.status != CLOSED:
            copy.status = BETWEEN
        self._step(copy, event)
        self._check(record)

    def _requeued(self, event: Requeued) -> None:
        record = self._record(event.msg)
        copy = self._copy(record, event.queue)
        if event.queue in self._deleted_queues:  # RabbitMQ drops it: its queue is gone
            self._release(record.msg, copy)
            self._gone(record, copy, event)
            return
        holder = self._release(record.msg, copy)
        # A crash, disconnect or pause hand-back: no Rejected came first, so count it here.
        if holder is not None and event.reason != "rejected":
            self._consumer(holder).requeued += 1
        if copy.status == CLOSED:
            self._reopen(record, copy)
        if copy.status != READY:
            copy.status = READY
            self._enqueue(event.queue, record.msg)
        self._step(copy, event)

    def _dead_lettered(self, event: DeadLettered) -> None:
        record = self._record(event.msg)
        copy = self._copy(record, event.queue)
        self._release(record.msg, copy)
        self._unready(record.msg, copy)
        self._queue(event.queue).dead_lettered += 1
        # After `expired` the copy is closed already: the first outcome stays, the new copies still count.
        self._close(record, copy, f"dead-lettered ({event.reason})")
        self._step(copy, event)
        routed = record.queues or ()
        for name in event.queues:
            target = record.copies.get(name)
            if target is not None and target.origin is None and name not in routed:
                # Its delivery raced ahead of this report (RabbitMQ: the rejecting consumer reports
                # after the broker already handed the copy on): it is this dead letter's copy.
                target.origin = event.queue
                if target.status != CLOSED:
                    record.open_routed -= 1
                self._step(target, event)
                continue
            if target is None or target.status == CLOSED:
                if target is None:
                    target = self._open(record, name, READY, origin=event.queue)
                else:
                    self._reopen(record, target)
                    target.status, target.origin = READY, event.queue
                self._enqueue(name, record.msg)
            self._step(target, event)
        self._check(record)

    def _expired(self, event: Expired) -> None:
        record = self._record(event.msg)
        copy = self._copy(record, event.queue)
        self._unready(record.msg, copy)
        self._queue(event.queue).expired += 1
        self._close(record, copy, "expired")
        self._step(copy, event)
        self._check(record)

    def _dropped(self, event: Dropped) -> None:
        record = self._record(event.msg)
        copy = self._copy(record, event.queue)
        self._release(record.msg, copy)
        self._unready(record.msg, copy)
        self._queue(event.queue).dropped += 1
        self._close(record, copy, f"dropped ({event.reason})")
        self._step(copy, event)
        self._check(record)

    def _topology(self, event: TopologyChanged) -> None:
        """Follow a declaration or deletion: counters for new nodes, none for deleted ones, and
        every copy still waiting in a deleted queue closed as dropped (RabbitMQ discards them;
        only the in-process broker reports each one, so the ledger does not wait for a report)."""
        change = event.change
        self.topology = apply_change(self.topology, change)
        self.unacked_cap = _unacked_caps(self.topology)
        kind, name = change.kind, change.name
        if change.op == "declare":
            if kind == "exchange":
                self._exchange(name)
            elif kind == "queue":
                self._queue(name)
                self._deleted_queues.discard(name)
            elif kind == "consumer":
                self._consumer(name)
            return
        if kind == "exchange":
            self.exchanges.pop(name, None)
        elif kind == "consumer":
            self.consumers.pop(name, None)
        elif kind == "queue":
            self._deleted_queues.add(name)
            for record in list(self.records.values()):  # dead-letter copies of settled ones too
                copy = record.copies.get(name)
                if copy is not None and copy.status in (READY, BETWEEN) and copy.holder is None:
                    self._gone(record, copy, event)
            self.queues.pop(name, None)

    def _gone(self, record: MessageRecord, copy: Copy, event: FlowEvent) -> None:
        """Close a copy whose queue was deleted; the queue's counters go with the queue."""
        self._unready(record.msg, copy)
        self._close(record, copy, "dropped (its queue was deleted)")
        self._step(copy, event)
        self._check(record)
        self.queues.pop(copy.queue, None)

    def _notice(self, event: Notice) -> None:
        if event.text == RESENT:
            record = self.records.get(event.msg or "")  # a forgotten one has nothing left to count
            if record is not None and not record.resent:
                record.resent = True
                record.notes.append(RESENT)

    def _consumer_state(self, event: ConsumerState) -> None:
        c = self._consumer(event.consumer)
        c.state, c.detail = event.state, event.detail

    def _depth(self, event: QueueDepth) -> None:
        q = self._queue(event.queue)
        q.ready, q.unacked = event.ready, event.unacked
        while len(q.waiting) > q.ready:
            q.waiting.pop(next(iter(q.waiting)))

    def _broker(self, event: BrokerStatus) -> None:
        self.broker = BrokerInfo(event.broker, event.state, event.faithful, event.detail)

    # -- the parts ----------------------------------------------------------------------------
    def _record(self, msg: str | None) -> MessageRecord:
        """The message's record; one is started for copies of messages we never saw published."""
        key = msg or ""
        record = self.records.get(key)
        if record is None:
            record = self.records[key] = MessageRecord(key)
        return record

    def _copy(self, record: MessageRecord, queue: str) -> Copy:
        """The copy in `queue`; one raced ahead of its routed event (or was never seen) starts here."""
        copy = record.copies.get(queue)
        if copy is None:
            copy = self._open(record, queue, BETWEEN)
        return copy

    def _open(self, record: MessageRecord, queue: str, status: str, origin: str | None = None) -> Copy:
        copy = record.copies[queue] = Copy(queue, status, origin)
        if self.stories:
            copy.steps = []
        record.open += 1
        if origin is None:
            record.open_routed += 1
        return copy

    def _reopen(self, record: MessageRecord, copy: Copy) -> None:
        """A closed copy is back (a dead-letter cycle into the same queue): open, outcome kept."""
        copy.status = BETWEEN
        record.open += 1
        if copy.origin is None:
            record.open_routed += 1
        if record.finished:
            record.finished = False  # still listed in _finished: forgetting it then checks again

    def _close(self, record: MessageRecord, copy: Copy, outcome: str) -> None:
        if copy.status == CLOSED:
            return
        copy.status, copy.outcome = CLOSED, outcome
        record.open -= 1
        if copy.origin is None:
            record.open_routed -= 1

    def _exchange_outcome(self, record: MessageRecord, event: FlowEvent, outcome: str) -> None:
        entry = record.copies.get(EXCHANGE)
        if entry is None:
            entry = record.copies[EXCHANGE] = Copy(EXCHANGE, CLOSED)
            if self.stories:
                entry.steps = []
        entry.outcome = outcome
        self._step(entry, event)

    def _step(self, copy: Copy, event: FlowEvent) -> None:
        if copy.steps is not None:
            copy.steps.append(event)

    def _check(self, record: MessageRecord) -> None:
        """Settlement and forgetting: called after every event that may close the last copy."""
        if record.published and record.settled and record.msg in self._unsettled:
            del self._unsettled[record.msg]
        if not record.finished and record.open == 0 and (record.queues is not None or not record.published):
            record.finished = True
            finished = self._finished
            finished.append(record.msg)
            while len(finished) > self.keep:
                old = self.records.get(finished.popleft())
                if old is not None and old.finished and old.msg not in self._unsettled:
                    del self.records[old.msg]

    def _release(self, msg: str, copy: Copy) -> str | None:
        """Take the copy out of its consumer's hands: returns who held it."""
        holder = copy.holder
        if holder is None:
            return None
        copy.holder = None
        if copy.status == HELD:
            copy.status = BETWEEN
        self._let_go(msg, copy.queue, holder)
        return holder

    def _let_go(self, msg: str, queue: str, holder: str) -> None:
        """One unacked copy of `msg` in `queue` leaves `holder`'s hands."""
        q = self._queue(queue)
        q.unacked = max(0, q.unacked - 1)
        c = self.consumers.get(holder)
        if c is not None:
            in_hand, held = c.in_hand, (msg, queue)
            if in_hand and in_hand[-1] == held:
                in_hand.pop()  # the usual case (prefetch 1): the newest delivery is the one settled
            elif held in in_hand:
                in_hand.remove(held)
            if not in_hand and c.state == "working":
                c.state, c.detail = "idle", ""

    def _enqueue(self, queue: str, msg: str) -> None:
        q = self._queue(queue)
        q.waiting[msg] = None
        q.ready += 1

    def _unready(self, msg: str, copy: Copy) -> None:
        if copy.status == READY:
            copy.status = BETWEEN
            q = self._queue(copy.queue)
            q.waiting.pop(msg, None)
            q.ready = max(0, q.ready - 1)

    def _exchange(self, name: str) -> ExchangeCounts:
        counts = self.exchanges.get(name)
        if counts is None:
            counts = self.exchanges[name] = ExchangeCounts()
        return counts

    def _queue(self, name: str) -> QueueCounts:
        counts = self.queues.get(name)
        if counts is None:
            counts = self.queues[name] = QueueCounts()
        return counts

    def _consumer(self, name: str) -> ConsumerCounts:
        counts = self.consumers.get(name)
        if counts is None:
            counts = self.consumers[name] = ConsumerCounts()
        return counts

    # -- questions ----------------------------------------------------------------------------
    @property
    def all_settled(self) -> bool:
        return not self._unsettled

    @property
    def in_flight(self) -> int:
        """Published messages not yet settled."""
        return len(self._unsettled)

    def unsettled(self) -> list[str]:
        """Ids of published messages not yet settled, in publish order."""
        return list(self._unsettled)

    def routing_key(self, msg: str) -> str | None:
        """The routing key a kept message was published with (None when unknown or forgotten)."""
        record = self.records.get(msg)
        return record.routing_key if record is not None and record.published else None

    def fate(self, msg: str) -> dict[str, str]:
        """How each closed copy of a kept message ended (queue -> outcome); {} when not kept."""
        record = self.records.get(msg)
        return record.fate() if record is not None else {}

    def open_copies(self, msg: str) -> set[str]:
        record = self.records.get(msg)
        return record.open_queues() if record is not None else set()

    def quiet(self) -> bool:
        """Everything published is settled, queues report empty and no consumer is mid-message."""
        return (
            not self._unsettled
            and all(q.ready == 0 and q.unacked == 0 for q in self.queues.values())
            and all(c.state in ("idle", "paused", "stopped") for c in self.consumers.values())
        )

    def messages_through(
        self,
        *,
        queue: str | None = None,
        consumer: str | None = None,
        exchange: str | None = None,
        limit: int = 8,
    ) -> list[str]:
        """The newest kept message ids that touched a queue, a consumer or an exchange (newest first)."""
        out = []
        for record in reversed(self.records.values()):
            if (
                (queue is not None and queue in record.copies)
                or (consumer is not None and consumer in record.consumers)
                or (exchange is not None and record.published and record.exchange == exchange)
            ):
                out.append(record.msg)
                if len(out) >= limit:
                    break
        return out

    def tally(self) -> CopyTally:
        """Copies of the kept records by status (a cross-check: the counts derive from the same copies)."""
        counts = {READY: 0, HELD: 0, BETWEEN: 0, CLOSED: 0}
        for record in self.records.values():
            for where, copy in record.copies.items():
                if where != EXCHANGE:
                    counts[copy.status] += 1
        return CopyTally(counts[READY], counts[HELD], counts[BETWEEN], counts[CLOSED])


def _unacked_caps(topology: Topology) -> dict[str, int | None]:
    """Per queue, the sum of its consumers' prefetch; None when one of them has no limit (0)."""
    caps: dict[str, int | None] = {}
    for consumer in topology.consumers:
        for queue in consumer.queues:
            known = caps.get(queue, 0)
            caps[queue] = None if known is None or consumer.prefetch <= 0 else known + consumer.prefetch
    return caps


_HANDLERS: dict[type[FlowEvent], Callable[[Ledger, Any], None]] = {
    Published: Ledger._published,
    Routed: Ledger._routed,
    Returned: Ledger._returned,
    Delivered: Ledger._delivered,
    Acked: Ledger._acked,
    Rejected: Ledger._rejected,
    Requeued: Ledger._requeued,
    DeadLettered: Ledger._dead_lettered,
    Expired: Ledger._expired,
    Dropped: Ledger._dropped,
    ConsumerState: Ledger._consumer_state,
    Notice: Ledger._notice,
    QueueDepth: Ledger._depth,
    BrokerStatus: Ledger._broker,
    TopologyChanged: Ledger._topology,
}
"""Dispatch by exact event type: one dict lookup per event instead of a chain of isinstance checks."""
