"""Helpers for the broker tests: fresh named brokers, declaring through kombu, draining until done."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Consumer, Exchange, Producer, Queue

import core.backends  # registers mqscope://
from core.broker import get_broker, name_from_url
from core.events import FlowEvent

assert core.backends.DEFAULT_BROKER_URL

WAIT = 5.0  # generous: tests settle on state, this only bounds a failure


def fresh_url() -> str:
    """A broker of its own for one test (brokers are per name, so tests never share state)."""
    return f"mqscope://t{uuid.uuid4().hex[:12]}"


class Recorder:
    """Collects the broker's own reports (thread-safe), like the engine's event stream does."""

    def __init__(self, url: str) -> None:
        self.events: list[FlowEvent] = []
        self._cond = threading.Condition()
        self.unsubscribe = get_broker(name_from_url(url)).subscribe(self._put)

    def _put(self, event: FlowEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: str) -> list[Any]:
        with self._cond:
            return [e for e in self.events if e.kind == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = WAIT) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len([e for e in self.events if e.kind == kind]) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {self.of(kind)} {kind!r} reports after {timeout}s"
                self._cond.wait(left)
        return self.of(kind)


def declare(
    conn: Connection,
    exchange: str,
    kind: str,
    bindings: list[tuple[str, str]] | list[tuple[str, Mapping[str, Any]]],
    **queue_arguments: Any,
) -> Exchange:
    """Declare `exchange` and bind each (queue, key-or-header-arguments) through kombu."""
    ex = Exchange(exchange, type=kind)
    ex(conn.default_channel).declare()
    args = {k.replace("_", "-"): v for k, v in queue_arguments.items()}
    for queue, key in bindings:
        if isinstance(key, str):
            q = Queue(queue, ex, routing_key=key, queue_arguments=args or None)
        else:
            q = Queue(queue, ex, binding_arguments=dict(key), queue_arguments=args or None)
        q(conn.default_channel).declare()
    return ex


def publish(conn: Connection, exchange: str, key: str, body: Any = None, **kwargs: Any) -> None:
    Producer(conn.default_channel, serializer="json").publish(
        {} if body is None else body, exchange=exchange, routing_key=key, **kwargs
    )


def depth(conn: Connection, queue: str) -> int:
    """Ready messages, asked through the transport (passive queue.declare), as a client would."""
    return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)


def drain_until(conn: Connection, done: Callable[[], bool], timeout: float = WAIT) -> None:
    """Drain deliveries on `conn` until `done()` holds; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while not done():
        left = deadline - time.monotonic()
        assert left > 0, "condition not reached while draining"
        try:
            conn.drain_events(timeout=min(0.1, left))
        except TimeoutError:
            continue


@contextmanager
def consuming(
    conn: Connection,
    queues: list[str],
    on_message: Callable[[Any, Any], None],
    prefetch: int | None = None,
) -> Iterator[Consumer]:
    """A kombu Consumer on its own channel of `conn`, like the tutorial's worker."""
    channel = conn.channel()
    consumer = Consumer(
        channel,
        queues=[Queue(q, no_declare=True) for q in queues],
        callbacks=[on_message],
        accept=["json"],
        prefetch_count=prefetch,
    )
    consumer.consume()
    try:
        yield consumer
    finally:
        channel.close()


E2E_EXCHANGES = {
    "e2e_front": "direct",
    "e2e_logs": "topic",
    "e2e_audit": "fanout",
    "e2e_alt": "fanout",
    "e2e_empty": "fanout",
}
E2E_QUEUES = ("e2e_kern_any", "e2e_audit_q", "e2e_lost_q")


def exchange_binding_walk(url: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """Exchanges bound to exchanges (a loop back included) beside an alternate exchange: publish,
    change the bindings, publish again, and read back which queues each message landed in.

    The same steps run on mqscope:// and on RabbitMQ, so their answers can be compared as they are.
    """
    confirms = {"transport_options": {"confirm_publish": True}} if url.startswith("amqp") else {}
    with Connection(url, **confirms) as conn:
        ch = conn.channel()
        for name in E2E_QUEUES:
            ch.queue_delete(queue=name)
        for name in E2E_EXCHANGES:
            ch.exchange_delete(exchange=name)
        for name, kind in E2E_EXCHANGES.items():
            arguments = {"alternate-exchange": "e2e_alt"} if name == "e2e_front" else None
            ch.exchange_declare(
                exchange=name, type=kind, durable=False, auto_delete=False, arguments=arguments
            )
        for name in E2E_QUEUES:
            ch.queue_declare(queue=name, durable=False, auto_delete=False)
        ch.queue_bind(queue="e2e_kern_any", exchange="e2e_logs", routing_key="kern.*")
        ch.queue_bind(queue="e2e_audit_q", exchange="e2e_audit", routing_key="")
        ch.queue_bind(queue="e2e_lost_q", exchange="e2e_alt", routing_key="")
        ch.exchange_bind(destination="e2e_logs", source="e2e_front", routing_key="kern.disk")
        ch.exchange_bind(destination="e2e_logs", source="e2e_front", routing_key="kern.crit")
        ch.exchange_bind(destination="e2e_audit", source="e2e_logs", routing_key="#.crit")
        ch.exchange_bind(destination="e2e_front", source="e2e_logs", routing_key="#")  # a loop
        ch.exchange_bind(destination="e2e_empty", source="e2e_front", routing_key="drop.me")
        producer = Producer(ch, serializer="json")
        landed: list[tuple[str, str, tuple[str, ...]]] = []

        def send(exchange: str, key: str) -> None:
            producer.publish({"key": key}, exchange=exchange, routing_key=key)
            where = tuple(q for q in E2E_QUEUES if ch.queue_declare(queue=q, passive=True).message_count)
            landed.append((exchange, key, where))
            for name in where:
                ch.queue_purge(queue=name)

        send("e2e_front", "kern.disk")  # through logs; the loop back to front is crossed once
        send("e2e_front", "kern.crit")  # logs, then audit from logs
        send("e2e_front", "user.login")  # no binding of front takes it: its alternate does
        send("e2e_logs", "app.crit")  # logs -> audit, and logs -> front, whose alternate takes it
        send("e2e_front", "drop.me")  # front's binding took it, so no alternate, though it ends nowhere
        ch.exchange_unbind(destination="e2e_logs", source="e2e_front", routing_key="kern.disk")
        send("e2e_front", "kern.disk")
        ch.exchange_delete(exchange="e2e_logs")  # its bindings both ways go with it
        send("e2e_front", "kern.crit")
        for name in E2E_QUEUES:
            ch.queue_delete(queue=name)
        for name in E2E_EXCHANGES:
            ch.exchange_delete(exchange=name)
        return landed
