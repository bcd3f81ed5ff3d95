"""Scripted walks through RabbitMQ's consumer and dead-letter rules, run through kombu on any URL.

Each walk declares its own entities, drives consumers step by step (each step waits on state, never
on time), and returns a plain trace: per consumer, in order, each delivery's message number and
redelivered flag; per message, the queues it landed in and its x-death. The unit tests assert the
trace on mqscope://; the differential tests run the same walk on RabbitMQ and compare the traces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kombu import Connection, Consumer, Producer, Queue

from broker_support import WAIT, drain_until

Trace = dict[str, list[tuple[int, bool]]]
"""Consumer name -> (message number, redelivered) in the order it received them."""


def _options(url: str) -> dict[str, Any]:
    """Publisher confirms on RabbitMQ, so a publish has reached its queues when it returns."""
    return {"transport_options": {"confirm_publish": True}} if url.startswith("amqp") else {}


@contextmanager
def _connection(url: str) -> Iterator[Connection]:
    with Connection(url, **_options(url)) as conn:
        yield conn


class Consumers:
    """Named kombu consumers on one connection, each on a channel of its own, recording deliveries."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.trace: Trace = {}
        self.held: dict[str, dict[int, Any]] = {}
        self.channels: dict[str, Any] = {}
        self.consumers: dict[str, Consumer] = {}

    def add(self, name: str, queue: str, prefetch: int, arguments: Mapping[str, Any] | None = None) -> None:
        channel = self.conn.channel()
        self.trace[name], self.held[name], self.channels[name] = [], {}, channel

        def received(body: Any, message: Any) -> None:
            self.trace[name].append((int(body["n"]), bool(message.delivery_info["redelivered"])))
            self.held[name][int(body["n"])] = message

        consumer = Consumer(
            channel,
            queues=[Queue(queue, no_declare=True, consumer_arguments=dict(arguments or {}) or None)],
            callbacks=[received],
            accept=["json"],
            prefetch_count=prefetch,
            tag_prefix=f"walk.{name}.",
        )
        consumer.consume()  # waits for consume-ok on RabbitMQ: subscription order is this order
        self.consumers[name] = consumer

    def until(self, done: Callable[[], bool]) -> None:
        drain_until(self.conn, done, timeout=WAIT * 2)

    def count(self, name: str) -> int:
        return len(self.trace[name])

    def ack(self, name: str, n: int) -> None:
        self.held[name].pop(n).ack()

    def requeue(self, name: str, n: int) -> None:
        self.held[name].pop(n).requeue()

    def cancel(self, name: str) -> None:
        """basic.cancel: what it holds stays unacked with it."""
        self.consumers[name].cancel()

    def crash(self, name: str) -> None:
        """Its channel closes: every copy it held goes back to the queue, redelivered."""
        self.channels[name].close()
        self.held[name].clear()


def _publish(conn: Connection, queue: str, numbers: range) -> None:
    producer = Producer(conn.channel(), serializer="json")
    for n in numbers:
        producer.publish({"n": n}, exchange="", routing_key=queue)


def _fresh_queue(conn: Connection, name: str, arguments: Mapping[str, Any] | None = None) -> None:
    channel = conn.default_channel
    channel.queue_delete(queue=name)
    given = dict(arguments or {}) or None
    channel.queue_declare(queue=name, durable=False, auto_delete=False, arguments=given)


def single_active_walk(url: str, *, past_takeover: bool = True) -> Trace:
    """x-single-active-consumer: A gets everything; B takes over when A's channel closes (A's
    unacked come back redelivered, in queue order); with `past_takeover`, B goes on with the rest
    and C takes over when B cancels (B's unacked stay B's).

    RabbitMQ 3.10 and 3.11 (classic queues) stop delivering to the new active consumer once it has
    had the requeued copies, and crash the queue process on the next publish (rabbitmq-server issue
    5460, fixed later): the differential test compares up to the takeover only.
    """
    queue = "walk_sac"
    with _connection(url) as pub, _connection(url) as conn:
        _fresh_queue(pub, queue, {"x-single-active-consumer": True})
        _publish(pub, queue, range(6))
        c = Consumers(conn)
        for name in ("A", "B", "C"):
            c.add(name, queue, prefetch=2)
        c.until(lambda: c.count("A") == 2)
        c.ack("A", 0)
        c.until(lambda: c.count("A") == 3)
        c.crash("A")  # holds 1 and 2
        c.until(lambda: c.count("B") == 2)  # 1 and 2 again, redelivered
        if past_takeover:
            c.ack("B", 1)
            c.until(lambda: c.count("B") == 3)  # 3
            c.cancel("B")  # holds 2 and 3
            c.until(lambda: c.count("C") == 2)  # 4 and 5
            c.requeue("B", 2)  # back at the head; C is full
            c.ack("B", 3)
            c.ack("C", 4)
            c.until(lambda: c.count("C") == 3)  # 2 again
            for n in list(c.held["C"]):
                c.ack("C", n)
        pub.default_channel.queue_delete(queue=queue)
        return c.trace


def consumer_priority_walk(url: str) -> Trace:
    """x-priority: the two priority-5 consumers in turn until their prefetch is full, then the
    priority-1 one; a freed slot goes to whoever freed it if nobody higher has room."""
    queue = "walk_prio"
    with _connection(url) as pub, _connection(url) as conn:
        _fresh_queue(pub, queue)
        c = Consumers(conn)
        c.add("low", queue, prefetch=1, arguments={"x-priority": 1})
        c.add("hi1", queue, prefetch=2, arguments={"x-priority": 5})
        c.add("hi2", queue, prefetch=2, arguments={"x-priority": 5})
        _publish(pub, queue, range(7))
        c.until(lambda: sum(map(c.count, ("low", "hi1", "hi2"))) == 5)
        c.ack("low", c.trace["low"][0][0])
        c.until(lambda: c.count("low") == 2)
        c.ack("hi2", c.trace["hi2"][0][0])
        c.until(lambda: c.count("hi2") == 3)
        pub.default_channel.queue_delete(queue=queue)
        return c.trace


def _deaths(message: Any) -> list[tuple[Any, ...]]:
    """x-death entries without their time (which differs by run), newest first; the time's presence
    is part of the answer."""
    return [
        (
            int(d["count"]),
            str(d["reason"]),
            str(d["queue"]),
            str(d["exchange"]),
            [str(k) for k in d["routing-keys"]],
            "time" in d,
        )
        for d in (message.headers or {}).get("x-death", [])
    ]


def _get(conn: Connection, queue: str) -> Any:
    return Queue(queue, no_declare=True)(conn.default_channel).get(no_ack=False)


def _wait_get(conn: Connection, queue: str) -> Any:
    """basic.get until a message is there (a dead letter travels asynchronously on RabbitMQ)."""
    found: list[Any] = []

    def got() -> bool:
        message = _get(conn, queue)
        if message is not None:
            found.append(message)
        return bool(found)

    drain_until(conn, got)
    return found[0]


def _depth(conn: Connection, queue: str) -> int:
    return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)


def dead_letter_cycle_walk(url: str) -> dict[str, Any]:
    """Two dead-letter cycles: one made of expiries only (RabbitMQ drops the message when it would
    come back to a queue it died in), one with a rejection in it (the message goes round again)."""
    out: dict[str, Any] = {}
    with _connection(url) as conn:
        ch = conn.default_channel
        for name in ("walk_dl_x", "walk_dl_y"):
            ch.exchange_delete(exchange=name)
            ch.exchange_declare(exchange=name, type="fanout", durable=False, auto_delete=False)
        # cycle 1: a --expired--> x (fanout: b, and the watch queue w) ; b --expired--> "" -> a
        _fresh_queue(conn, "walk_dl_a", {"x-message-ttl": 0, "x-dead-letter-exchange": "walk_dl_x"})
        _fresh_queue(
            conn,
            "walk_dl_b",
            {"x-message-ttl": 0, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "walk_dl_a"},
        )
        _fresh_queue(conn, "walk_dl_w")
        ch.queue_bind(queue="walk_dl_b", exchange="walk_dl_x", routing_key="")
        ch.queue_bind(queue="walk_dl_w", exchange="walk_dl_x", routing_key="")
        Producer(ch, serializer="json").publish({"n": 1}, exchange="", routing_key="walk_dl_a")
        watched = _wait_get(conn, "walk_dl_w")
        out["watch"] = _deaths(watched)
        watched.ack()
        # r --rejected--> y (fanout: s) ; s --expired--> "" -> r : it comes back to r
        _fresh_queue(conn, "walk_dl_r", {"x-dead-letter-exchange": "walk_dl_y"})
        _fresh_queue(
            conn,
            "walk_dl_s",
            {"x-message-ttl": 0, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "walk_dl_r"},
        )
        ch.queue_bind(queue="walk_dl_s", exchange="walk_dl_y", routing_key="")
        Producer(ch, serializer="json").publish({"n": 2}, exchange="", routing_key="walk_dl_r")
        first = _wait_get(conn, "walk_dl_r")
        first.reject()
        again = _wait_get(conn, "walk_dl_r")
        out["rejected_cycle"] = _deaths(again)
        again.reject()  # and round once more: count goes up, newest first
        third = _wait_get(conn, "walk_dl_r")
        out["rejected_twice"] = _deaths(third)
        third.ack()
        # The expiry-only cycle ended: nothing is left anywhere.
        queues = ("walk_dl_a", "walk_dl_b", "walk_dl_w", "walk_dl_r", "walk_dl_s")
        out["left"] = {q: _depth(conn, q) for q in queues}
        for q in queues:
            ch.queue_delete(queue=q)
        for name in ("walk_dl_x", "walk_dl_y"):
            ch.exchange_delete(exchange=name)
    return out


ROUTING_EXCHANGES = {
    "walk_c1": ("direct", "walk_c2"),
    "walk_c2": ("direct", "walk_c3"),
    "walk_c3": ("fanout", None),
    "walk_l1": ("direct", "walk_l2"),
    "walk_l2": ("direct", "walk_l1"),
    "walk_top": ("fanout", None),
    "walk_left": ("fanout", None),
    "walk_right": ("topic", None),
}
ROUTING_QUEUES = ("walk_q1", "walk_q2", "walk_q3", "walk_qd")


def alternate_and_diamond_walk(url: str) -> list[tuple[str, str, dict[str, int]]]:
    """Alternate exchanges chained (c1 -> c2 -> c3) and in a loop (l1 <-> l2); a diamond of exchange
    bindings (top -> left, top -> right, both and top itself -> qd): per publish, copies per queue."""
    with _connection(url) as conn:
        ch = conn.default_channel
        for name in ROUTING_EXCHANGES:
            ch.exchange_delete(exchange=name)
        for name, (kind, alternate) in ROUTING_EXCHANGES.items():
            arguments = {"alternate-exchange": alternate} if alternate else None
            ch.exchange_declare(
                exchange=name, type=kind, durable=False, auto_delete=False, arguments=arguments
            )
        for q in ROUTING_QUEUES:
            _fresh_queue(conn, q)
        ch.queue_bind(queue="walk_q1", exchange="walk_c1", routing_key="a")
        ch.queue_bind(queue="walk_q2", exchange="walk_c2", routing_key="b")
        ch.queue_bind(queue="walk_q3", exchange="walk_c3", routing_key="")
        ch.queue_bind(queue="walk_q1", exchange="walk_l1", routing_key="a")
        ch.exchange_bind(destination="walk_left", source="walk_top", routing_key="")
        ch.exchange_bind(destination="walk_right", source="walk_top", routing_key="")
        ch.queue_bind(queue="walk_qd", exchange="walk_top", routing_key="")
        ch.queue_bind(queue="walk_qd", exchange="walk_left", routing_key="")
        ch.queue_bind(queue="walk_qd", exchange="walk_right", routing_key="#")
        ch.queue_bind(queue="walk_qd", exchange="walk_right", routing_key="d.*")
        producer = Producer(ch, serializer="json")
        landed: list[tuple[str, str, dict[str, int]]] = []
        for exchange, key in (
            ("walk_c1", "a"),  # its own binding
            ("walk_c1", "b"),  # c1 takes nothing: c2 does
            ("walk_c1", "z"),  # c1, c2 take nothing: c3 (fanout) does
            ("walk_l1", "z"),  # l1 -> l2 -> l1: the loop ends, unroutable
            ("walk_l2", "a"),  # l2 takes nothing: l1 does
            ("walk_top", "d.x"),  # four paths to qd: one copy
        ):
            producer.publish({"k": key}, exchange=exchange, routing_key=key)
            counts = {q: _depth(conn, q) for q in ROUTING_QUEUES}
            landed.append((exchange, key, {q: n for q, n in counts.items() if n}))
            for q in ROUTING_QUEUES:
                ch.queue_purge(queue=q)
        for q in ROUTING_QUEUES:
            ch.queue_delete(queue=q)
        for name in ROUTING_EXCHANGES:
            ch.exchange_delete(exchange=name)
        return landed


def priority_spread_walk(url: str, consumers: list[tuple[int, int]], count: int) -> Trace:
    """Consumers given as (x-priority, prefetch), subscribed in order, then `count` messages and no
    acks: who got which, in order (hypothesis draws the consumers on both brokers)."""
    queue = "walk_spread"
    with _connection(url) as pub, _connection(url) as conn:
        _fresh_queue(pub, queue)
        c = Consumers(conn)
        for index, (priority, prefetch) in enumerate(consumers):
            c.add(f"c{index}", queue, prefetch=prefetch, arguments={"x-priority": priority})
        _publish(pub, queue, range(count))
        expected = min(count, sum(prefetch for _, prefetch in consumers))
        c.until(lambda: sum(map(c.count, c.trace)) == expected)
        pub.default_channel.queue_delete(queue=queue)
        return c.trace


def single_active_with_priority_walk(url: str) -> Trace:
    """x-single-active-consumer with a higher x-priority subscribing second: RabbitMQ 3.10 keeps
    the first subscriber active (priorities do not choose the active consumer there)."""
    queue = "walk_sac_prio"
    with _connection(url) as pub, _connection(url) as conn:
        _fresh_queue(pub, queue, {"x-single-active-consumer": True})
        c = Consumers(conn)
        c.add("low", queue, prefetch=5, arguments={"x-priority": 0})
        c.add("high", queue, prefetch=5, arguments={"x-priority": 9})
        _publish(pub, queue, range(3))
        c.until(lambda: c.count("low") + c.count("high") == 3)
        pub.default_channel.queue_delete(queue=queue)
        return c.trace


Graph = tuple[
    tuple[tuple[str, str | None], ...],  # exchanges: (type, alternate index or None)
    tuple[tuple[int, int, str], ...],  # exchange bindings: (source, destination, key)
    tuple[tuple[int, int, str], ...],  # queue bindings: (exchange, queue, key)
]


def graph_walk(url: str, graph: Graph, keys: list[str]) -> list[dict[str, int]]:
    """A generated graph of exchanges (exchange bindings, alternates, loops allowed) and three
    queues: publish each key to exchange 0 and count the copies each queue got."""
    kinds, links, binds = graph
    names = [f"walk_g{i}" for i in range(len(kinds))]
    queues = [f"walk_gq{i}" for i in range(3)]
    with _connection(url) as conn:
        ch = conn.default_channel
        for name in names:
            ch.exchange_delete(exchange=name)
        for name, (kind, alternate) in zip(names, kinds, strict=True):
            arguments = {"alternate-exchange": names[int(alternate)]} if alternate is not None else None
            ch.exchange_declare(
                exchange=name, type=kind, durable=False, auto_delete=False, arguments=arguments
            )
        for q in queues:
            _fresh_queue(conn, q)
        for source, destination, key in links:
            ch.exchange_bind(destination=names[destination], source=names[source], routing_key=key)
        for exchange, queue, key in binds:
            ch.queue_bind(queue=queues[queue], exchange=names[exchange], routing_key=key)
        producer = Producer(ch, serializer="json")
        landed = []
        for key in keys:
            producer.publish({"k": key}, exchange=names[0], routing_key=key)
            landed.append({q: n for q in queues if (n := _depth(conn, q))})
            for q in queues:
                ch.queue_purge(queue=q)
        for q in queues:
            ch.queue_delete(queue=q)
        for name in names:
            ch.exchange_delete(exchange=name)
        return landed
