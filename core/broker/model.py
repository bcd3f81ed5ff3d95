"""The in-process broker: exchanges, bindings and queues with RabbitMQ 3.x semantics, thread-safe.

Routing is core.routing's router over a BindingTable the broker keeps in step with every declare,
bind, unbind and delete (a new table each time, so a route never sees half a change); deliveries are
pushed to consumers round-robin within each consumer's prefetch; unacked copies go back to their own
queue, in their old place and marked redelivered, on reject(requeue) or when their channel closes;
TTL, max-length and max-length-bytes with every x-overflow mode, x-expires, priorities, quorum
delivery limits, dead-lettering with x-death, alternate exchanges and mandatory returns behave as
RabbitMQ's do (core/broker/__init__.py lists what is modelled and what is not).
Every broker-side step is reported to listeners as a core.events event, under the lock, so a report
always precedes the delivery it explains.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.broker.delivery import DeliveryMixin
from core.broker.entities import (
    EXCHANGE_KINDS,
    QUEUE_ARGUMENTS,
    BrokerError,
    ExchangeState,
    PublishOutcome,
    QueueState,
)
from core.broker.locking import YieldingLock
from core.broker.message import Envelope, expiration_ms
from core.broker.session import ChannelState, Session
from core.errors import format_traceback, one_line
from core.events import Dropped, FlowEvent, InternalError, Notice, Returned, Routed
from core.queue_arguments import declare_problem, refused_reason, unmodelled
from core.routing import Binding, BindingTable, ExchangeEntry, RouteResult

Listener = Callable[[FlowEvent], None]
__all__ = ["EXCHANGE_KINDS", "Broker", "BrokerError", "Listener", "PublishOutcome"]
class Broker(DeliveryMixin):
    """One virtual broker (one per `mqscope://NAME`); all state behind one lock."""

    def __init__(self, name: str = "localhost") -> None:
        self.name = name
        self._lock = YieldingLock()
        self._timer = threading.Condition(self._lock.lock)
        self._timer_thread: threading.Thread | None = None
        self._listeners: tuple[Listener, ...] = ()
        self.exchanges: dict[str, ExchangeState] = {}
        self.queues: dict[str, QueueState] = {}
        self._table = BindingTable()
        """Exchanges, queues and bindings as the router sees them; replaced on every change."""
        self._sessions: list[Session] = []
        self._declare_defaults()

    def _declare_defaults(self) -> None:
        for kind in EXCHANGE_KINDS:
            name = "amq.match" if kind == "headers" else f"amq.{kind}"
            self._add_exchange(ExchangeState(name, kind))

    def _add_exchange(self, state: ExchangeState) -> None:
        self.exchanges[state.name] = state
        self._table = self._table.with_exchange(state.name, ExchangeEntry(state.type, state.alternate))

    # -- reporting ----------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every broker-side event (under the broker lock: keep it quick and
        never call the broker from it). Returns the unsubscribe function."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def _report(self, event: FlowEvent) -> None:
        """Tell every listener. One that raises cannot stop the others hearing of it, nor leave the
        broker half way through a step: its failure is reported to all as an InternalError."""
        failures: list[Exception] = []
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:
                failures.append(exc)
        if failures and isinstance(event, InternalError):
            raise failures[0]  # failing on the failure report too: the thread's own handler has it
        for failure in failures:
            where = f"a listener of broker {self.name!r} on thread {threading.current_thread().name}"
            self._report(self._internal_error(where, failure))

    @staticmethod
    def _internal_error(where: str, exc: BaseException) -> InternalError:
        return InternalError(where=where, error=one_line(exc), traceback=format_traceback(exc))

    def reset(self) -> None:
        """Forget every exchange, queue and message (tests, and a fresh run); listeners stay.

        Every copy the broker held is reported dropped: ready in a queue, unacked on a channel (a
        later ack of it is a no-op), or delivered but not yet read from a connection's inbox."""
        with self._lock:
            for queue in self.queues.values():
                for envelope in queue.ready:
                    self._report(Dropped(msg=envelope.msg_id, queue=queue.name, reason="broker reset"))
                queue.ready.clear()
            for session in self._sessions:
                for channel in session.channels:
                    self._drop_unread(channel, channel.session.remove(channel), "broker reset")
                    for tag in sorted(channel.unacked):
                        unacked = channel.unacked.pop(tag)
                        self._release(unacked)
                        channel.forgotten.add(tag)
                        reason = "broker reset while it was unacked"
                        self._report(Dropped(msg=unacked.envelope.msg_id, queue=unacked.queue, reason=reason))
                session.inbox.clear()
            self.exchanges.clear()
            self.queues.clear()
            self._table = BindingTable()
            self._declare_defaults()

    # -- sessions and channels ----------------------------------------------------------------
    def open_session(self) -> Session:
        with self._lock:
            session = Session(self._lock)
            self._sessions.append(session)
            return session

    def close_session(self, session: Session) -> None:
        """The connection closed: its exclusive queues go with it; a drain waiting on it ends."""
        with self._lock:
            session.closed = True
            session.cond.notify_all()
            if session in self._sessions:
                self._sessions.remove(session)
            for state in [q for q in self.queues.values() if q.owner is session]:
                self._drop_queue(state)

    @staticmethod
    def _check_owner(queue: QueueState, session: Session | None) -> None:
        if queue.owner is not None and queue.owner is not session:
            raise BrokerError(
                405,
                f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue {queue.name!r}",
            )

    def open_channel(self, session: Session, owner: Any = None) -> ChannelState:
        with self._lock:
            channel = ChannelState(session, owner)
            session.channels.append(channel)
            return channel

    def close_channel(self, channel: ChannelState) -> None:
        """Cancel its consumers and give every unacked copy back to its queue, redelivered."""
        with self._lock:
            if channel.closed:
                return
            channel.closed = True
            left = [self._cancel(channel, tag, dispatch=False) for tag in list(channel.consumers)]
            if channel in channel.session.channels:
                channel.session.channels.remove(channel)
            unread = channel.session.remove(channel)
            self._drop_unread(channel, unread, "its no-ack consumer's channel closed before reading it")
            self._requeue_all(channel, "its consumer's channel closed before acking it")
            for queue in left:  # its copies are back in place: now the others (or the next single
                if queue is not None and self.queues.get(queue.name) is queue:  # active one) get them
                    self._dispatch(queue)

    # -- declarations -------------------------------------------------------------------------
    def declare_exchange(
        self,
        name: str,
        kind: str = "direct",
        *,
        durable: bool = True,
        auto_delete: bool = False,
        arguments: Mapping[str, Any] | None = None,
        passive: bool = False,
    ) -> None:
        with self._lock:
            existing = self.exchanges.get(name)
            if passive:
                if existing is None:
                    raise BrokerError(404, f"NOT_FOUND - no exchange {name!r}")
                return
            if kind not in EXCHANGE_KINDS:
                raise BrokerError(503, f"COMMAND_INVALID - unknown exchange type {kind!r}")
            if existing is None:
                self._add_exchange(ExchangeState(name, kind, durable, auto_delete, dict(arguments or {})))
            elif existing.type != kind:
                raise BrokerError(
                    406,
                    f"PRECONDITION_FAILED - inequivalent arg 'type' for exchange {name!r}: "
                    f"received {kind!r} but current is {existing.type!r}",
                )

    def delete_exchange(self, name: str) -> None:
        with self._lock:
            if self.exchanges.pop(name, None) is not None:
                self._table = self._table.without_exchange(name)

    def declare_queue(
        self,
        name: str,
        *,
        arguments: Mapping[str, Any] | None = None,
        passive: bool = False,
        durable: bool = True,
        auto_delete: bool = False,
        exclusive: bool = False,
        session: Session | None = None,
    ) -> tuple[str, int, int]:
        """(name, ready, consumers); an empty name gets a generated one, as RabbitMQ does.

        Arguments are checked as RabbitMQ 3.10 checks them (406 with its text); one the broker does
        not model is refused (540 NOT_IMPLEMENTED) rather than ignored."""
        with self._lock:
            name = name or f"amq.gen-{uuid.uuid4().hex}"
            existing = self.queues.get(name)
            if existing is not None:
                self._check_owner(existing, session)
            if passive:
                if existing is None:
                    raise BrokerError(404, f"NOT_FOUND - no queue {name!r}")
                return name, len(existing.ready), len(existing.consumers)
            wanted = dict(arguments or {})
            if (key := unmodelled(wanted)) is not None:
                raise BrokerError(
                    540, f"NOT_IMPLEMENTED - mqscope:// does not model queue argument {key!r}"
                )
            problem = declare_problem(
                name, wanted, durable=durable, exclusive=exclusive, auto_delete=auto_delete
            )
            if problem is not None:
                raise BrokerError(406, f"PRECONDITION_FAILED - {problem}")
            if existing is None:
                owner = session if exclusive else None
                existing = QueueState(name, wanted, auto_delete=auto_delete, owner=owner)
                self.queues[name] = existing
                self._table = self._table.with_queue(name)
            else:
                for key in QUEUE_ARGUMENTS:
                    if existing.arguments.get(key) != wanted.get(key):
                        raise BrokerError(
                            406,
                            f"PRECONDITION_FAILED - inequivalent arg {key!r} for queue {name!r}: "
                            f"received {wanted.get(key)!r} but current is "
                            f"{existing.arguments.get(key)!r}",
                        )
            self._touch(existing)
            return name, len(existing.ready), len(existing.consumers)

    def delete_queue(self, name: str, *, if_unused: bool = False, if_empty: bool = False) -> int:
        """Delete a queue with its bindings and ready messages; returns how many were dropped."""
        with self._lock:
            state = self.queues.get(name)
            if state is None or (if_unused and state.consumers) or (if_empty and state.ready):
                return 0
            return self._drop_queue(state)

    def _drop_queue(self, state: QueueState, reason: str = "its queue was deleted") -> int:
        """Remove a queue, its bindings and its consumers; its ready messages are gone (never
        dead-lettered, as RabbitMQ)."""
        name = state.name
        if self.queues.get(name) is not state:
            return 0
        del self.queues[name]
        for envelope in state.ready:  # RabbitMQ discards them: say so for each copy
            self._report(Dropped(msg=envelope.msg_id, queue=name, reason=reason))
        self._table = self._table.without_queue(name)
        for consumer in list(state.consumers):
            self._cancel(consumer.channel, consumer.tag)
        return len(state.ready)

    def purge_queue(self, name: str) -> int:
        with self._lock:
            state = self._queue(name)
            count = len(state.ready)
            state.ready.clear()
            return count

    def bind(
        self, queue: str, exchange: str, key: str, arguments: Mapping[str, Any] | None = None
    ) -> None:
        with self._lock:
            self._queue(queue)  # NOT_FOUND unless both ends exist
            self._exchange(exchange)
            binding = Binding(exchange, queue, "queue", key, dict(arguments or {}))
            self._table = self._table.with_binding(binding)

    def unbind(
        self, queue: str, exchange: str, key: str, arguments: Mapping[str, Any] | None = None
    ) -> None:
        with self._lock:
            binding = Binding(exchange, queue, "queue", key, dict(arguments or {}))
            self._table = self._table.without_binding(binding)

    def bind_exchange(
        self, destination: str, source: str, key: str, arguments: Mapping[str, Any] | None = None
    ) -> None:
        """exchange.bind: what `source` routes under this key goes on through `destination` too."""
        with self._lock:
            binding = Binding(source, destination, "exchange", key, dict(arguments or {}))
            self._exchange_binding_ends(binding)
            self._table = self._table.with_binding(binding)

    def unbind_exchange(
        self, destination: str, source: str, key: str, arguments: Mapping[str, Any] | None = None
    ) -> None:
        with self._lock:
            binding = Binding(source, destination, "exchange", key, dict(arguments or {}))
            self._exchange_binding_ends(binding)
            self._table = self._table.without_binding(binding)

    def _exchange_binding_ends(self, binding: Binding) -> None:
        """RabbitMQ refuses the default exchange at either end, and a missing exchange."""
        if "" in (binding.source, binding.destination):
            raise BrokerError(403, "ACCESS_REFUSED - operation not permitted on the default exchange")
        self._exchange(binding.source)
        self._exchange(binding.destination)

    def bindings(self) -> list[tuple[str, str, str]]:
        """(exchange, routing key, queue) for every binding to a queue."""
        with self._lock:
            return [
                (b.source, b.routing_key, b.destination)
                for b in self._table
                if b.destination_kind == "queue"
            ]

    def _queue(self, name: str) -> QueueState:
        state = self.queues.get(name)
        if state is None:
            raise BrokerError(404, f"NOT_FOUND - no queue {name!r}")
        return state

    def _exchange(self, name: str) -> ExchangeState:
        state = self.exchanges.get(name)
        if state is None:
            raise BrokerError(404, f"NOT_FOUND - no exchange {name!r}")
        return state

    # -- routing and publishing ---------------------------------------------------------------
    def route(
        self, exchange: str, routing_key: str, headers: Mapping[str, Any] | None = None
    ) -> RouteResult:
        """Where a message would go now (nothing is published)."""
        with self._lock:
            return self._route(exchange, routing_key, headers)

    def _route(
        self, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> RouteResult:
        if exchange != "" and exchange not in self.exchanges:
            raise BrokerError(404, f"NOT_FOUND - no exchange {exchange!r}")
        return self._table.route(exchange, routing_key, headers)

    def publish(self, envelope: Envelope, *, mandatory: bool = False) -> PublishOutcome:
        """Route and enqueue one message; reports routed (and returned) before any delivery."""
        ttl = expiration_ms(envelope.properties)  # ValueError for a malformed expiration
        with self._lock:
            route = self._route(envelope.exchange, envelope.routing_key, envelope.headers)
            queues, via = route.queues, route.via_alternate
            if self._listeners:
                self._report(
                    Routed(
                        msg=envelope.msg_id,
                        exchange=envelope.exchange,
                        routing_key=envelope.routing_key,
                        queues=queues,
                        source="broker",
                        via_alternate=via,
                    )
                )
            if not queues:
                if mandatory:
                    self._report(
                        Returned(
                            msg=envelope.msg_id,
                            exchange=envelope.exchange,
                            routing_key=envelope.routing_key,
                        )
                    )
                return PublishOutcome((), None, returned=mandatory)
            refused = tuple(q for q in queues if not self._enqueue(self.queues[q], envelope, ttl))
            return PublishOutcome(queues, via, refused=refused)

    def _enqueue(self, queue: QueueState, envelope: Envelope, message_ttl: int | None) -> bool:
        """Put a copy in `queue` (in priority order), deliver, then enforce x-max-length(-bytes).

        False when x-overflow reject-publish(-dlx) refused it: the publisher's confirm is a nack, and
        the -dlx variant dead-letters the refused copy (reason maxlen, as RabbitMQ 3.10)."""
        if queue.refuses(envelope):
            if queue.overflow == "reject-publish-dlx":
                self._dead_letter(queue, envelope, "maxlen")
            else:
                why = refused_reason(queue.arguments)
                self._report(Dropped(msg=envelope.msg_id, queue=queue.name, reason=why))
            return False
        ttls = [t for t in (queue.ttl_ms, message_ttl) if t is not None]
        deadline = time.monotonic() + min(ttls) / 1000 if ttls else None
        copy = envelope.copy(seq=queue.next_seq, deadline=deadline)
        queue.next_seq += 1
        if not queue.ready and (consumer := self._next_consumer(queue)) is not None:
            self._deliver(queue, consumer, copy)  # a waiting consumer gets it, even with a TTL of 0
            return True
        # As RabbitMQ: enqueue, drop the head while over the limit (maxlen), then expire heads.
        self._insert(queue, copy)
        if queue.overflow == "drop-head" and queue.over_limit():
            while queue.ready and queue.over_limit():
                self._dead_letter(queue, queue.ready.popleft(), "maxlen")
        self._dispatch(queue)
        return True

    @staticmethod
    def _insert(queue: QueueState, envelope: Envelope) -> None:
        """Behind every ready copy that ranks before it (priority, then queue order)."""
        ready = queue.ready
        if not queue.max_priority:
            ready.append(envelope)  # a new copy has the highest queue position
            return
        rank = queue.rank(envelope)
        index = len(ready)
        while index > 0 and queue.rank(ready[index - 1]) > rank:
            index -= 1
        ready.insert(index, envelope)

    def _touch(self, queue: QueueState) -> None:
        """The queue was used (declared, read with basic.get, or left without consumers): its
        x-expires clock starts again; while it has consumers it cannot expire."""
        expires = queue.expires_ms
        if expires is None:
            return
        queue.expires_at = None if queue.consumers else time.monotonic() + expires / 1000
        if queue.expires_at is not None:
            self._wake_timer()

    def _expire_queue(self, queue: QueueState) -> None:
        """x-expires ran out: RabbitMQ deletes the queue; its messages are dropped, not dead-lettered."""
        what = f"expired unused (x-expires {queue.expires_ms} ms) and was deleted"
        why = f"its queue {what}"
        self._report(Notice(msg=None, level="info", text=f"queue {queue.name!r} {what}"))
        self._drop_queue(queue, why)

    def _wake_timer(self) -> None:
        """Called with the lock held. A timer that died of a bug (reported) is started afresh."""
        if self._timer_thread is None or not self._timer_thread.is_alive():
            self._timer_thread = threading.Thread(
                target=self._run_timer, name=f"mqscope-broker-{self.name}-ttl", daemon=True
            )
            self._timer_thread.start()
        self._timer.notify()

    def _run_timer(self) -> None:
        """The TTL timer thread: a bug in it is reported as an InternalError to every listener (and
        the next queue head with a TTL starts a new timer), never a silent end of expiry."""
        try:
            self._expire_on_time()
        except Exception as exc:
            with self._lock:
                self._report(self._internal_error(f"broker {self.name!r} TTL timer", exc))

    def _expire_on_time(self) -> None:
        """Expire queue heads when their deadline passes; sleeps until the next one (no polling)."""
        with self._lock:
            while True:
                nearest: float | None = None
                now = time.monotonic()
                for queue in list(self.queues.values()):
                    if queue.expires_at is not None and queue.expires_at <= now and not queue.consumers:
                        self._expire_queue(queue)
                        continue
                    self._dispatch(queue)
                    head = queue.ready[0].deadline if queue.ready else None
                    due = [d for d in (head, queue.expires_at) if d is not None]
                    if due:
                        nearest = min(due) if nearest is None else min(nearest, *due)
                wait = None if nearest is None else max(0.0, nearest - time.monotonic())
                self._timer.wait(wait)

    # -- inspection ---------------------------------------------------------------------------
    def depth(self, queue: str) -> tuple[int, int]:
        """(ready, unacked) for a queue, exact at this instant; (0, 0) when it does not exist."""
        with self._lock:
            state = self.queues.get(queue)
            if state is None:
                return 0, 0
            self._expire_heads(state)
            return len(state.ready), state.unacked

    def queue_names(self) -> Iterable[str]:
        with self._lock:
            return list(self.queues)

