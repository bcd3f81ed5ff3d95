"""Delivery and settlement inside the broker: round-robin within prefetch, ack, requeue in place,
expiry at the queue head and dead-lettering with x-death, as RabbitMQ 3.x does them.

A mixin of Broker: every method here runs with the broker lock held (public ones take it).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from core.broker.entities import BrokerError, ExchangeState, QueueState
from core.broker.locking import YieldingLock
from core.broker.message import Envelope, dead_letter_copy, dead_letter_cycle
from core.broker.session import ChannelState, ConsumerRecord, Delivery, Unacked
from core.events import DeadLettered, Dropped, Expired, FlowEvent, Requeued
from core.routing import RouteResult


class DeliveryMixin:
    """Moves copies between queues and consumers; the Broker supplies state, routing and enqueue."""

    _lock: YieldingLock
    queues: dict[str, QueueState]
    exchanges: dict[str, ExchangeState]
    _report: Callable[[FlowEvent], None]

    def _route(
        self, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> RouteResult:
        raise NotImplementedError

    def _enqueue(self, queue: QueueState, envelope: Envelope, message_ttl: int | None) -> bool:
        raise NotImplementedError

    def _wake_timer(self) -> None:
        raise NotImplementedError

    def _queue(self, name: str) -> QueueState:
        raise NotImplementedError

    def _drop_queue(self, state: QueueState, reason: str = "its queue was deleted") -> int:
        raise NotImplementedError

    def _touch(self, queue: QueueState) -> None:
        raise NotImplementedError

    @staticmethod
    def _insert(queue: QueueState, envelope: Envelope) -> None:
        raise NotImplementedError

    @staticmethod
    def _check_owner(queue: QueueState, session: Any) -> None:
        raise NotImplementedError

    # -- delivery -----------------------------------------------------------------------------
    def _dispatch(self, queue: QueueState) -> None:
        """Hand ready copies to consumers with free prefetch, round-robin; expire stale heads."""
        ready = queue.ready
        now = time.monotonic()
        while ready:
            head = ready[0]
            if head.deadline is not None and head.deadline <= now:
                ready.popleft()
                self._expire(queue, head)
                continue
            consumer = self._next_consumer(queue)
            if consumer is None:
                break
            ready.popleft()
            self._deliver(queue, consumer, head)
        self._watch_head(queue)

    def _watch_head(self, queue: QueueState) -> None:
        """Only a queue's head expires (RabbitMQ): tell the timer whenever a new head has a TTL."""
        if queue.ready and queue.ready[0].deadline is not None:
            self._wake_timer()

    @staticmethod
    def _next_consumer(queue: QueueState) -> ConsumerRecord | None:
        """Who gets the head now, as RabbitMQ chooses: with x-single-active-consumer, the earliest
        subscriber still there, or nobody while it has no prefetch to spare; otherwise the highest
        x-priority with prefetch to spare, equal ones in turn (the one served goes to the back)."""
        consumers = queue.consumers
        if queue.single_active:
            active = consumers[0] if consumers else None  # never rotated: subscription order
            return active if active is not None and active.has_capacity() else None
        if queue.prioritized:
            return DeliveryMixin._next_by_priority(consumers)
        for _ in range(len(consumers)):
            candidate = consumers[0]
            consumers.rotate(-1)
            if candidate.has_capacity():
                return candidate
        return None

    @staticmethod
    def _next_by_priority(consumers: deque[ConsumerRecord]) -> ConsumerRecord | None:
        """Among the highest x-priority with room, the first in turn; it (and those of its priority
        skipped for want of room) goes to the back, the other priorities keep their turns."""
        ready = [c.priority for c in consumers if c.has_capacity()]
        if not ready:
            return None
        best = max(ready)
        moved: list[ConsumerRecord] = []
        chosen: ConsumerRecord | None = None
        for candidate in consumers:
            if candidate.priority == best:
                moved.append(candidate)
                if candidate.has_capacity():
                    chosen = candidate
                    break
        for candidate in moved:
            consumers.remove(candidate)
            consumers.append(candidate)
        return chosen

    def _deliver(self, queue: QueueState, consumer: ConsumerRecord, envelope: Envelope) -> None:
        channel = consumer.channel
        tag = channel.new_tag()
        if not consumer.no_ack:
            channel.unacked[tag] = Unacked(envelope, queue.name, consumer, queue)
            consumer.unacked += 1
            queue.unacked += 1
        channel.session.push(Delivery(channel, consumer.tag, tag, envelope, queue.name))

    def consume(
        self,
        channel: ChannelState,
        queue: str,
        tag: str,
        *,
        no_ack: bool = False,
        arguments: Mapping[str, Any] | None = None,
    ) -> None:
        """basic.consume: the consumer's prefetch is the channel's basic.qos at this moment; its
        `x-priority` argument (an integer, as RabbitMQ insists) ranks it among the queue's consumers."""
        with self._lock:
            state = self._queue(queue)
            self._check_owner(state, channel.session)
            if tag in channel.consumers:
                raise BrokerError(530, f"NOT_ALLOWED - attempt to reuse consumer tag {tag!r}")
            priority = (arguments or {}).get("x-priority", 0)
            if isinstance(priority, bool) or not isinstance(priority, int):
                raise BrokerError(
                    406, f"PRECONDITION_FAILED - invalid arg 'x-priority' for queue {queue!r}: {priority!r}"
                )
            record = ConsumerRecord(tag, queue, channel, channel.prefetch, no_ack, priority=priority)
            channel.consumers[tag] = record
            state.consumers.append(record)
            state.expires_at = None  # in use: x-expires waits until the last consumer goes
            state.prioritized = state.prioritized or priority != 0
            self._dispatch(state)

    def qos(self, channel: ChannelState, prefetch: int, *, global_: bool = False) -> None:
        """basic.qos: global=false applies to consumers started afterwards; global=true is one
        limit shared by the whole channel, effective at once."""
        with self._lock:
            if not global_:
                channel.prefetch = max(0, int(prefetch))
                return
            channel.global_prefetch = max(0, int(prefetch))
            for queue in {c.queue for c in channel.consumers.values()}:
                if queue in self.queues:
                    self._dispatch(self.queues[queue])

    def cancel(self, channel: ChannelState, tag: str) -> list[Delivery]:
        """basic.cancel: the queue sends this consumer nothing more.

        As on RabbitMQ, copies already sent stay unacked on the channel until the client acks or
        rejects them (or the channel closes). Those still in the connection's inbox, not yet read by
        the client, are returned in order for the client to handle now: they are the deliveries that
        reach a pyamqp client before its basic.cancel-ok.
        """
        with self._lock:
            self._cancel(channel, tag)
            return channel.session.remove(channel, tag)

    def return_unread(self, channel: ChannelState, unread: list[Delivery]) -> None:
        """Deliveries for a cancelled consumer that the client will never read: a copy awaiting its
        ack goes back to its place in its queue, redelivered, reported Requeued; a no-ack copy left
        its queue when it was sent and is gone, reported Dropped."""
        with self._lock:
            for delivery in unread:
                unacked = channel.unacked.pop(delivery.delivery_tag, None)
                if unacked is None:
                    gone = "its no-ack consumer was cancelled before reading it"
                    self._report(Dropped(msg=delivery.envelope.msg_id, queue=delivery.queue, reason=gone))
                    continue
                self._release(unacked)
                self._requeue(unacked, "its consumer was cancelled before reading it")

    def _cancel(self, channel: ChannelState, tag: str, *, dispatch: bool = True) -> QueueState | None:
        """Remove a consumer; returns its queue when that queue is still there. With x-single-active-
        consumer the next subscriber takes over at once (unless `dispatch` is False: a closing
        channel first puts its unacked copies back, then dispatches)."""
        record = channel.consumers.pop(tag, None)
        if record is None:
            return None
        state = self.queues.get(record.queue)
        if state is None or record not in state.consumers:
            return None
        state.consumers.remove(record)
        state.prioritized = any(c.priority for c in state.consumers)
        if state.auto_delete and not state.consumers:
            self._drop_queue(state)
            return None
        if not state.consumers:
            self._touch(state)  # unused from now: its x-expires clock starts
        if dispatch:
            self._dispatch(state)
        return state

    def _drop_unread(self, channel: ChannelState, unread: list[Delivery], reason: str) -> None:
        """Report the no-ack copies among deliveries taken back unread: nothing else holds them."""
        for delivery in unread:
            if delivery.delivery_tag not in channel.unacked:
                self._report(Dropped(msg=delivery.envelope.msg_id, queue=delivery.queue, reason=reason))

    def get(self, channel: ChannelState, queue: str, *, no_ack: bool = False) -> Delivery | None:
        """basic.get: the head of the queue, or None when it is empty."""
        with self._lock:
            state = self._queue(queue)
            self._touch(state)
            self._expire_heads(state)
            if not state.ready:
                return None
            envelope = state.ready.popleft()
            if state.quorum and "x-delivery-count" not in envelope.headers:
                # RabbitMQ 3.10's quorum queues say 0 on a first basic.get (measured)
                envelope = replace(envelope, headers={**envelope.headers, "x-delivery-count": 0})
            self._expire_heads(state)  # a stale new head expires now, as RabbitMQ does after a fetch
            tag = channel.new_tag()
            if not no_ack:
                channel.unacked[tag] = Unacked(envelope, queue, None, state)
                state.unacked += 1
            return Delivery(channel, "", tag, envelope, queue)

    # -- settlement ---------------------------------------------------------------------------
    def ack(self, channel: ChannelState, delivery_tag: int, *, multiple: bool = False) -> None:
        with self._lock:
            for unacked in self._take(channel, delivery_tag, multiple):
                self._release(unacked)
                self._refill(unacked)

    def reject(
        self,
        channel: ChannelState,
        delivery_tag: int,
        *,
        requeue: bool,
        multiple: bool = False,
        reason: str = "rejected",
    ) -> None:
        """basic.reject / basic.nack: back to the head of its own queue, or dead-lettered.

        `reason` only words the Requeued report (RabbitMQ is never told why a client rejects)."""
        with self._lock:
            for unacked in self._take(channel, delivery_tag, multiple):
                self._release(unacked)
                if requeue:
                    self._requeue(unacked, reason)
                else:
                    queue = self._home(unacked)
                    if queue is not None:
                        self._dead_letter(queue, unacked.envelope, "rejected")
                self._refill(unacked)

    def recover(self, channel: ChannelState) -> None:
        """basic.recover(requeue=True): every unacked copy on the channel goes back."""
        with self._lock:
            self._requeue_all(channel, "recovered")

    def _take(self, channel: ChannelState, delivery_tag: int, multiple: bool) -> list[Unacked]:
        if not multiple and delivery_tag in channel.forgotten:
            channel.forgotten.discard(delivery_tag)  # a broker reset dropped it (and said so)
            return []
        if multiple:
            tags = [t for t in channel.unacked if t <= delivery_tag or delivery_tag == 0]
        elif delivery_tag in channel.unacked:
            tags = [delivery_tag]
        else:
            raise BrokerError(406, f"PRECONDITION_FAILED - unknown delivery tag {delivery_tag}")
        return [channel.unacked.pop(t) for t in sorted(tags)]

    def _home(self, unacked: Unacked) -> QueueState | None:
        """The queue a copy came from, if that very queue still exists."""
        queue = self.queues.get(unacked.queue)
        return queue if queue is not None and queue is unacked.origin else None

    def _release(self, unacked: Unacked) -> None:
        if unacked.consumer is not None:
            unacked.consumer.unacked -= 1
        queue = self._home(unacked)
        if queue is not None:
            queue.unacked -= 1

    def _refill(self, unacked: Unacked) -> None:
        queue = self._home(unacked)
        if queue is not None:
            self._dispatch(queue)
        consumer = unacked.consumer
        if consumer is not None and consumer.channel.global_prefetch:
            # A channel-wide slot freed up: any of the channel's queues may use it.
            for name in {c.queue for c in consumer.channel.consumers.values()} - {unacked.queue}:
                if name in self.queues:
                    self._dispatch(self.queues[name])

    def _requeue_all(self, channel: ChannelState, reason: str) -> None:
        held = [channel.unacked[t] for t in sorted(channel.unacked)]
        channel.unacked.clear()
        touched: dict[str, QueueState] = {}
        for unacked in held:
            self._release(unacked)
            self._requeue(unacked, reason, dispatch=False)
            home = self._home(unacked)
            if home is not None:
                touched[home.name] = home
        for queue in touched.values():
            self._dispatch(queue)

    def _requeue(
        self, unacked: Unacked, reason: str, *, report: bool = True, dispatch: bool = True
    ) -> None:
        """Back into its own queue at its old position (ahead of every later copy), redelivered."""
        queue = self._home(unacked)
        if queue is None:  # deleted while the copy was in a consumer's hands: nowhere to go back to
            gone = Dropped(msg=unacked.envelope.msg_id, queue=unacked.queue, reason="its queue was deleted")
            self._report(gone)
            return
        envelope = unacked.envelope.redelivery()
        if queue.quorum:  # a quorum queue counts returns; past x-delivery-limit it dead-letters
            count = _delivery_count(envelope.headers) + 1
            limit = queue.delivery_limit
            if limit is not None and count > limit:
                self._dead_letter(queue, envelope, "delivery_limit")
                if dispatch:
                    self._dispatch(queue)
                return
            envelope = replace(envelope, headers={**envelope.headers, "x-delivery-count": count})
        ready = queue.ready
        rank = queue.rank(envelope)
        index = 0
        while index < len(ready) and queue.rank(ready[index]) < rank:
            index += 1
        ready.insert(index, envelope)
        if report:
            self._report(Requeued(msg=envelope.msg_id, queue=queue.name, reason=reason))
        if envelope.deadline is not None:
            self._wake_timer()
        if dispatch:
            self._dispatch(queue)

    # -- expiry and dead-lettering ------------------------------------------------------------
    def _expire(self, queue: QueueState, envelope: Envelope) -> None:
        self._report(Expired(msg=envelope.msg_id, queue=queue.name))
        self._dead_letter(queue, envelope, "expired")

    def _expire_heads(self, queue: QueueState) -> None:
        now = time.monotonic()
        ready = queue.ready
        while ready:
            deadline = ready[0].deadline
            if deadline is None or deadline > now:
                break
            self._expire(queue, ready.popleft())
        self._watch_head(queue)

    def _dead_letter(self, queue: QueueState, envelope: Envelope, reason: str) -> None:
        """Republish to the queue's dead-letter exchange with x-death, or drop (reported)."""
        dlx = queue.dead_letter_exchange
        if dlx is None:
            if reason == "rejected":
                why = "rejected, and the queue has no dead-letter exchange"
            elif reason == "delivery_limit":
                why = f"delivered more than x-delivery-limit {queue.delivery_limit} times: dropped"
            elif reason == "maxlen" and queue.overflow == "reject-publish-dlx":
                why = "rejected by queue: full (x-overflow reject-publish-dlx, no dead-letter exchange)"
            elif reason == "maxlen":
                why = f"queue full ({queue.limits()}): oldest message dropped"
            else:
                return  # expired without a DLX: the Expired report says it all
            self._report(Dropped(msg=envelope.msg_id, queue=queue.name, reason=why))
            return
        key = queue.dead_letter_routing_key
        copy = dead_letter_copy(
            envelope,
            queue=queue.name,
            reason=reason,
            exchange=dlx,
            routing_key=envelope.routing_key if key is None else key,
        )
        if queue.quorum and "x-delivery-count" in copy.headers:  # a quorum queue adds it per delivery
            copy = replace(copy, headers={k: v for k, v in copy.headers.items() if k != "x-delivery-count"})
        queues: tuple[str, ...] = ()
        if dlx == "" or dlx in self.exchanges:
            found = self._route(dlx, copy.routing_key, copy.headers).queues
            queues = tuple(q for q in found if not dead_letter_cycle(copy.headers, q, reason))
        self._report(
            DeadLettered(
                msg=envelope.msg_id,
                queue=queue.name,
                reason=reason,
                exchange=dlx,
                routing_key=copy.routing_key,
                queues=queues,
            )
        )
        for name in queues:
            self._enqueue(self.queues[name], copy, None)


def _delivery_count(headers: Mapping[str, Any]) -> int:
    value = headers.get("x-delivery-count")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

