"""The in-process broker: exchanges, bindings and queues with RabbitMQ 3.x semantics, thread-safe.

Routing uses core.routing (RabbitMQ's topic rules); deliveries are pushed to consumers round-robin
within each consumer's prefetch; unacked copies go back to their own queue, in their old place and
marked redelivered, on reject(requeue) or when their channel closes; TTL, max-length (drop-head),
dead-lettering with x-death, alternate exchanges and mandatory returns behave as RabbitMQ's do.
Every broker-side step is reported to listeners as a core.events event, under the lock, so a report
always precedes the delivery it explains.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.broker.entities import (
    EXCHANGE_KINDS,
    QUEUE_ARGUMENTS,
    BrokerError,
    ExchangeState,
    PublishOutcome,
    QueueState,
)
from core.broker.flow import DeliveryMixin
from core.broker.locking import YieldingLock
from core.broker.message import Envelope, expiration_ms
from core.broker.session import ChannelState, Session
from core.events import FlowEvent, Returned, Routed
from core.routing import binding_matches

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
        self._sessions: list[Session] = []
        self._declare_defaults()

    def _declare_defaults(self) -> None:
        for kind in EXCHANGE_KINDS:
            name = "amq.match" if kind == "headers" else f"amq.{kind}"
            self.exchanges[name] = ExchangeState(name, kind)

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
        for listener in self._listeners:
            listener(event)

    def reset(self) -> None:
        """Forget every exchange, queue and message (tests, and a fresh run); listeners stay."""
        with self._lock:
            self.exchanges.clear()
            self.queues.clear()
            for session in self._sessions:
                session.inbox.clear()
            self._declare_defaults()

    # -- sessions and channels ----------------------------------------------------------------
    def open_session(self) -> Session:
        with self._lock:
            session = Session(self._lock)
            self._sessions.append(session)
            return session

    def close_session(self, session: Session) -> None:
        """The connection closed: its exclusive queues go with it."""
        with self._lock:
            session.closed = True
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
            return ChannelState(session, owner)

    def close_channel(self, channel: ChannelState) -> None:
        """Cancel its consumers and give every unacked copy back to its queue, redelivered."""
        with self._lock:
            if channel.closed:
                return
            channel.closed = True
            for tag in list(channel.consumers):
                self._cancel(channel, tag)
            channel.session.remove(channel)
            self._requeue_all(channel, "its consumer's channel closed before acking it")

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
                self.exchanges[name] = ExchangeState(
                    name, kind, durable, auto_delete, dict(arguments or {})
                )
            elif existing.type != kind:
                raise BrokerError(
                    406,
                    f"PRECONDITION_FAILED - inequivalent arg 'type' for exchange {name!r}: "
                    f"received {kind!r} but current is {existing.type!r}",
                )

    def delete_exchange(self, name: str) -> None:
        with self._lock:
            self.exchanges.pop(name, None)

    def declare_queue(
        self,
        name: str,
        *,
        arguments: Mapping[str, Any] | None = None,
        passive: bool = False,
        auto_delete: bool = False,
        exclusive: bool = False,
        session: Session | None = None,
    ) -> tuple[str, int, int]:
        """(name, ready, consumers); an empty name gets a generated one, as RabbitMQ does."""
        with self._lock:
            name = name or f"amq.gen-{uuid.uuid4().hex}"
            existing = self.queues.get(name)
            if existing is not None:
                self._check_owner(existing, session)
            if passive:
                if existing is None:
                    raise BrokerError(404, f"NOT_FOUND - no queue {name!r}")
                return name, len(existing.ready), len(existing.consumers)
            wanted = {k: v for k, v in (arguments or {}).items() if k in QUEUE_ARGUMENTS}
            if existing is None:
                owner = session if exclusive else None
                existing = QueueState(name, wanted, auto_delete=auto_delete, owner=owner)
                self.queues[name] = existing
            else:
                for key in QUEUE_ARGUMENTS:
                    if existing.arguments.get(key) != wanted.get(key):
                        raise BrokerError(
                            406,
                            f"PRECONDITION_FAILED - inequivalent arg {key!r} for queue {name!r}: "
                            f"received {wanted.get(key)!r} but current is "
                            f"{existing.arguments.get(key)!r}",
                        )
            return name, len(existing.ready), len(existing.consumers)

    def delete_queue(self, name: str, *, if_unused: bool = False, if_empty: bool = False) -> int:
        """Delete a queue with its bindings and ready messages; returns how many were dropped."""
        with self._lock:
            state = self.queues.get(name)
            if state is None or (if_unused and state.consumers) or (if_empty and state.ready):
                return 0
            return self._drop_queue(state)

    def _drop_queue(self, state: QueueState) -> int:
        """Remove a queue, its bindings and its consumers; its ready messages are gone."""
        name = state.name
        if self.queues.get(name) is not state:
            return 0
        del self.queues[name]
        for exchange in self.exchanges.values():
            exchange.bindings = [b for b in exchange.bindings if b[0] != name]
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
            self._queue(queue)
            target = self._exchange(exchange)
            binding = (queue, key, dict(arguments or {}))
            if binding not in target.bindings:
                target.bindings.append(binding)

    def unbind(
        self, queue: str, exchange: str, key: str, arguments: Mapping[str, Any] | None = None
    ) -> None:
        with self._lock:
            target = self.exchanges.get(exchange)
            if target is not None:
                binding = (queue, key, dict(arguments or {}))
                target.bindings = [b for b in target.bindings if b != binding]

    def bindings(self) -> list[tuple[str, str, str]]:
        """(exchange, routing key, queue) for every binding."""
        with self._lock:
            return [(e.name, k, q) for e in self.exchanges.values() for q, k, _ in e.bindings]

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
    ) -> tuple[tuple[str, ...], str | None]:
        """Sorted queues a message would reach, and the alternate exchange it went through."""
        with self._lock:
            return self._route(exchange, routing_key, headers)

    def _route(
        self, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> tuple[tuple[str, ...], str | None]:
        if exchange == "":
            return ((routing_key,) if routing_key in self.queues else ()), None
        state = self._exchange(exchange)
        found = {
            queue
            for queue, key, args in state.bindings
            if binding_matches(state.type, key, args, routing_key, headers)
        }
        via: str | None = None
        seen = {exchange}
        while not found and state.alternate and state.alternate not in seen:
            alternate = self.exchanges.get(state.alternate)
            if alternate is None:
                break
            via = via or alternate.name
            seen.add(alternate.name)
            state = alternate
            found = {
                queue
                for queue, key, args in state.bindings
                if binding_matches(state.type, key, args, routing_key, headers)
            }
        found &= self.queues.keys()
        return tuple(sorted(found)), (via if found else None)

    def publish(self, envelope: Envelope, *, mandatory: bool = False) -> PublishOutcome:
        """Route and enqueue one message; reports routed (and returned) before any delivery."""
        ttl = expiration_ms(envelope.properties)  # ValueError for a malformed expiration
        with self._lock:
            queues, via = self._route(envelope.exchange, envelope.routing_key, envelope.headers)
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
            for name in queues:
                self._enqueue(self.queues[name], envelope, ttl)
            return PublishOutcome(queues, via)

    def _enqueue(self, queue: QueueState, envelope: Envelope, message_ttl: int | None) -> None:
        ttls = [t for t in (queue.ttl_ms, message_ttl) if t is not None]
        deadline = time.monotonic() + min(ttls) / 1000 if ttls else None
        queue.ready.append(envelope.copy(seq=queue.next_seq, deadline=deadline))
        queue.next_seq += 1
        self._dispatch(queue)
        limit = queue.max_length
        if limit is not None and len(queue.ready) > limit:
            while len(queue.ready) > limit:
                self._dead_letter(queue, queue.ready.popleft(), "maxlen")
            self._watch_head(queue)

    def _wake_timer(self) -> None:
        if self._timer_thread is None:
            self._timer_thread = threading.Thread(
                target=self._run_timer, name=f"mqscope-broker-{self.name}-ttl", daemon=True
            )
            self._timer_thread.start()
        self._timer.notify()

    def _run_timer(self) -> None:
        """Expire queue heads when their deadline passes; sleeps until the next one (no polling)."""
        with self._lock:
            while True:
                nearest: float | None = None
                for queue in list(self.queues.values()):
                    self._dispatch(queue)
                    if queue.ready and queue.ready[0].deadline is not None:
                        head = queue.ready[0].deadline
                        nearest = head if nearest is None else min(nearest, head)
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
