"""What a user's kombu program does on an in-process broker (mqscope:// or memory://), as flow events.

While `--run` runs a program, the channels of every connection mqscope did not open itself report
here: declarations become topology changes (folded into the engine's live topology and shown as
`topology` events, origin "script"), publishes, deliveries, acks and rejects become the usual flow
events. A channel finds the watch when it opens (`channel_watch`); connections of mqscope's own pass
the transport option APP_OWNED and are never watched. One watch at a time per process.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from core.events import Acked, Delivered, FlowEvent, Published, Rejected
from core.topology import ConsumerSpec, ExchangeSpec, ExchangeType, QueueSpec
from core.topology_changes import TopologyChange, declare, delete, queue_binding

APP_OWNED = "mqscope_app"
"""Transport option set on mqscope's own connections: their channels are never watched."""

ORIGIN = "script"
Observe = Callable[[TopologyChange], None]
"""Fold a change the broker already made into the live topology and report it (the engine's)."""


class ScriptWatch:
    """The sink of one run: `emit` for flow events, `observe` for topology changes."""

    def __init__(self, emit: Callable[[FlowEvent], None], observe: Observe) -> None:
        self.emit = emit
        self.observe = observe
        self._consumers = itertools.count(1)
        self._lock = threading.Lock()
        self.connections: list[Callable[[], None]] = []
        """Closers of the program's connections (stop wakes a drain_events that has no timeout)."""
        self.on_connect: Callable[[str, object], None] = lambda _kind, _broker: None
        """Called as each of the program's connections opens, with its broker kind ("mqscope" or
        "memory") and, for mqscope://, its Broker: the run listens to that broker's own reports and
        says where the program's broker is not the one mqscope polls."""

    def consumer_name(self) -> str:
        with self._lock:
            return f"consumer-{next(self._consumers)}"

    def add_closer(self, close: Callable[[], None]) -> None:
        with self._lock:
            self.connections.append(close)

    def close_connections(self) -> None:
        """Close every connection the program opened (from any thread): its blocked drains end."""
        with self._lock:
            closers, self.connections = self.connections, []
        for close in closers:
            close()


_current: ScriptWatch | None = None


def start_watching(watch: ScriptWatch) -> None:
    global _current
    _current = watch


def stop_watching(watch: ScriptWatch) -> None:
    global _current
    if _current is watch:
        _current = None


def current_watch(transport_options: Mapping[str, Any] | None) -> ScriptWatch | None:
    """The running watch, unless these are the options of a connection of mqscope's own."""
    if transport_options and transport_options.get(APP_OWNED):
        return None
    return _current


def body_value(body: Any, content_type: str | None) -> Any:
    """A published body as a flow event shows it: JSON decoded, other text as text."""
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(body)} bytes of {content_type or 'binary'}>"
    if isinstance(body, str) and content_type == "application/json":
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def queue_spec(name: str, arguments: Mapping[str, Any] | None, durable: bool) -> QueueSpec:
    """The queue as declared, with the arguments mqscope models (RabbitMQ's names)."""
    args = arguments or {}
    ttl = args.get("x-message-ttl")
    dlx = args.get("x-dead-letter-exchange")
    dlk = args.get("x-dead-letter-routing-key")
    limit = args.get("x-max-length")
    return QueueSpec(
        name,
        dead_letter_exchange=None if dlx is None else str(dlx),
        dead_letter_routing_key=None if dlk is None else str(dlk),
        message_ttl=None if ttl is None else int(ttl) / 1000,
        max_length=None if limit is None else int(limit),
        durable=durable,
    )


class ChannelWatch:
    """One watched channel: what it declares, publishes, consumes and settles."""

    def __init__(self, watch: ScriptWatch) -> None:
        self.watch = watch
        self.consumer = ""
        """This channel's consumer as the canvas shows it (named once it first consumes)."""
        self.prefetch = 0
        self._queues: dict[str, str] = {}
        """Consumer tag -> queue."""
        self._held: dict[int, tuple[str, str]] = {}
        """Delivery tag -> (message id, queue) until acked or rejected."""

    # -- topology -------------------------------------------------------------------------------
    def exchange_declared(
        self, name: str, kind: str, durable: bool, arguments: Mapping[str, Any] | None
    ) -> None:
        if not name or name.startswith("amq."):
            return  # the broker's own exchanges are not the program's topology
        alternate = (arguments or {}).get("alternate-exchange")
        spec = ExchangeSpec(
            name, cast(ExchangeType, kind), durable, None if alternate is None else str(alternate)
        )
        self.watch.observe(declare(spec))

    def exchange_deleted(self, name: str) -> None:
        self.watch.observe(delete(ExchangeSpec(name)))

    def queue_declared(self, name: str, arguments: Mapping[str, Any] | None, durable: bool) -> None:
        self.watch.observe(declare(queue_spec(name, arguments, durable)))

    def queue_deleted(self, name: str) -> None:
        self.watch.observe(delete(QueueSpec(name)))

    def bound(self, queue: str, exchange: str, key: str, arguments: Mapping[str, Any] | None) -> None:
        if exchange:  # every queue's implicit binding to the default exchange is not drawn
            self.watch.observe(declare(queue_binding(exchange, queue, key, arguments)))

    def unbound(self, queue: str, exchange: str, key: str, arguments: Mapping[str, Any] | None) -> None:
        if exchange:
            self.watch.observe(delete(queue_binding(exchange, queue, key, arguments)))

    # -- messages -------------------------------------------------------------------------------
    def published(self, msg: str, exchange: str, key: str, body: Any, headers: Mapping[str, Any]) -> None:
        self.watch.emit(
            Published(msg=msg, exchange=exchange, routing_key=key, body=body, headers=dict(headers))
        )

    def consuming(self, tag: str, queue: str, prefetch: int) -> None:
        """basic.consume: this channel's consumer now consumes `queue` too."""
        if not self.consumer:
            self.consumer = self.watch.consumer_name()
        self._queues[tag] = queue
        self.prefetch = prefetch
        self._declare_consumer()

    def cancelled(self, tag: str) -> None:
        queue = self._queues.pop(tag, None)
        if queue is None:
            return
        if self._queues:
            self._declare_consumer()
        else:  # deleted as it was last declared (the log names what it consumed)
            self.watch.observe(delete(ConsumerSpec(self.consumer, (queue,), self.prefetch)))

    def _declare_consumer(self) -> None:
        queues = tuple(dict.fromkeys(self._queues.values()))
        self.watch.observe(declare(ConsumerSpec(self.consumer, queues, self.prefetch)))

    def delivered(self, delivery_tag: int, msg: str, queue: str, redelivered: bool, no_ack: bool) -> None:
        if not self.consumer:  # basic.get: the channel gets a name all the same
            self.consumer = self.watch.consumer_name()
        if not no_ack:
            self._held[delivery_tag] = (msg, queue)
        self.watch.emit(Delivered(msg=msg, queue=queue, consumer=self.consumer, redelivered=redelivered))
        if no_ack:
            self.watch.emit(Acked(msg=msg, queue=queue, consumer=self.consumer))

    def acked(self, delivery_tag: int, multiple: bool) -> None:
        for msg, queue in self._settle(delivery_tag, multiple):
            self.watch.emit(Acked(msg=msg, queue=queue, consumer=self.consumer))

    def rejected(
        self, delivery_tag: int, multiple: bool, requeue: bool, action: str
    ) -> list[tuple[str, str]]:
        """Report each copy rejected (`action`: requeue, dead_letter or drop); returns them."""
        settled = self._settle(delivery_tag, multiple)
        for msg, queue in settled:
            error = "rejected by the program" + (" with requeue" if requeue else "")
            self.watch.emit(
                Rejected(msg=msg, queue=queue, consumer=self.consumer, action=action, error=error)
            )
        return settled

    def _settle(self, delivery_tag: int, multiple: bool) -> list[tuple[str, str]]:
        if not multiple:
            held = self._held.pop(delivery_tag, None)
            return [] if held is None else [held]
        tags = sorted(t for t in self._held if t <= delivery_tag or delivery_tag == 0)
        return [self._held.pop(t) for t in tags]

    def closed(self) -> list[tuple[str, str]]:
        """The channel closed: its consumer is gone. Returns the copies it held unacked, (message
        id, queue), for brokers that do not report what became of them (memory://)."""
        if self._queues:
            queues = tuple(dict.fromkeys(self._queues.values()))
            self._queues.clear()
            self.watch.observe(delete(ConsumerSpec(self.consumer, queues, self.prefetch)))
        held, self._held = list(self._held.values()), {}
        return held
