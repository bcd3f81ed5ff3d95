"""Play one script of queue operations on any broker URL and record what a client can see of it.

The same script runs on mqscope:// and on RabbitMQ (tests/integration/test_rabbitmq_queue_arguments.py
compares the two traces); the unit tests run it on mqscope:// alone against what RabbitMQ 3.10 did.
A trace holds, per step: the publisher's confirm (ack or nack), each basic.get's body, redelivered
flag, `x-delivery-count` and `x-death` (reason, queue, count), whether the queue still exists; then
every queue drained in order, the dead-letter queue with each copy's x-death. Time-dependent steps
(TTL, x-expires) sleep well past the limit on both brokers, so only outcomes are compared.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from amqp.exceptions import MessageNacked
from kombu import Connection, Exchange, Producer, Queue

DLX = "qa_dlx"
DEAD = "qa_dead"


@dataclass(frozen=True)
class Publish:
    queue: str
    body: str
    priority: int | None = None
    expiration: str | None = None  # milliseconds, as AMQP writes it


@dataclass(frozen=True)
class Get:
    queue: str
    then: str = "ack"
    """ack | requeue | reject (no requeue: dead-letter) | hold (unacked until a Settle)."""


@dataclass(frozen=True)
class Settle:
    """Settle the oldest copy a Get held: ack | requeue | reject."""

    then: str = "ack"


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Declare:
    """Redeclare (x-expires counts it as use)."""

    queue: str


Step = Publish | Get | Sleep | Declare | Settle


@dataclass
class Script:
    queues: Mapping[str, Mapping[str, Any]]
    """Queue name -> its arguments; each queue dead-letters to DLX (fanout) -> DEAD."""
    steps: Sequence[Step]
    durable: bool = True
    held: list[tuple[Any, int]] = field(default_factory=list)
    """(channel, delivery tag) of copies held unacked, oldest first (filled while playing)."""


def _death(headers: Mapping[str, Any] | None) -> list[tuple[str, str, int]]:
    deaths = (headers or {}).get("x-death") or []
    return [(str(d["reason"]), str(d["queue"]), int(d["count"])) for d in deaths]


def _seen(message: Any) -> tuple[Any, ...]:
    headers = message.headers or {}
    return (
        message.body.decode() if isinstance(message.body, bytes) else message.body,
        bool(message.delivery_info.get("redelivered")),
        headers.get("x-delivery-count"),
        _death(headers),
    )


def _ready(conn: Connection, queue: str) -> int | None:
    """Ready copies in `queue` (passive declare on a channel of its own), None once it is gone."""
    channel = conn.channel()
    try:
        return int(channel.queue_declare(queue=queue, passive=True).message_count)
    except Exception as exc:  # a 404 closes the channel: the queue is gone (x-expires)
        if getattr(exc, "code", None) == 404:
            return None
        raise
    finally:
        channel.close()  # closing a channel a 404 closed already is a no-op on both transports


def settled(conn: Connection, queues: Sequence[str], timeout: float = 3.0) -> None:
    """RabbitMQ applies rejects and dead-letters asynchronously (quorum queues through Raft): wait
    until the ready counts stop changing (three equal reads 50 ms apart) before reading on."""
    last: list[int | None] = []
    same = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and same < 3:
        counts = [_ready(conn, q) for q in queues]
        same = same + 1 if counts == last else 0
        last = counts
        time.sleep(0.05)


def reset(url: str, queues: Sequence[str]) -> None:
    with Connection(url) as conn:
        channel = conn.channel()
        for queue in (*queues, DEAD):
            channel.queue_delete(queue)
        channel.exchange_delete(DLX)


def play(url: str, script: Script) -> list[Any]:
    """Run `script` on `url` (which must start with none of its queues) and return its trace."""
    names = list(script.queues)
    script.held.clear()
    reset(url, names)
    trace: list[Any] = []
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        dlx = Exchange(DLX, type="fanout", durable=True)
        dlx(channel).declare()
        Queue(DEAD, dlx, routing_key="", durable=True)(channel).declare()
        for name, arguments in script.queues.items():
            args = {"x-dead-letter-exchange": DLX, **arguments}
            Queue(name, durable=script.durable, queue_arguments=args, no_declare=False)(channel).declare()
        producer = Producer(channel)
        for step in script.steps:
            trace.append(_step(conn, producer, script, step))
        settled(conn, [*names, DEAD])
        channel = conn.channel()
        for name in [*names, DEAD]:
            held: list[Any] = []
            if _ready(conn, name) is None:
                trace.append((name, "gone"))
                continue
            while (message := channel.basic_get(name, no_ack=True)) is not None:
                held.append(_seen(message))
            trace.append((name, held))
    reset(url, names)
    return trace


def _step(conn: Connection, producer: Producer, script: Script, step: Step) -> Any:
    if isinstance(step, Publish):
        options: dict[str, Any] = {}
        if step.priority is not None:
            options["priority"] = step.priority
        if step.expiration is not None:
            options["expiration"] = int(step.expiration) / 1000
        try:
            producer.publish(
                step.body.encode(),
                exchange="",
                routing_key=step.queue,
                content_type="text/plain",
                content_encoding="utf-8",
                **options,
            )
        except MessageNacked:
            return ("publish", step.body, "nack")
        return ("publish", step.body, "ack")
    if isinstance(step, Sleep):
        time.sleep(step.seconds)
        return ("sleep",)
    if isinstance(step, Settle):
        channel, tag = script.held.pop(0)
        _settle(conn, script, channel, tag, step.then)
        return ("settle", step.then)
    if isinstance(step, Declare):
        channel = conn.channel()
        args = {"x-dead-letter-exchange": DLX, **script.queues[step.queue]}
        Queue(step.queue, durable=script.durable, queue_arguments=args)(channel).declare()
        channel.close()
        return ("declare", step.queue)
    if _ready(conn, step.queue) is None:
        return ("get", step.queue, "gone")
    channel = conn.channel()
    message = channel.basic_get(step.queue, no_ack=False)
    if message is None:
        channel.close()
        return ("get", step.queue, None)
    seen = _seen(message)
    tag = message.delivery_info["delivery_tag"]  # amqp:// hands back amqp's Message, not kombu's
    if step.then == "hold":
        script.held.append((channel, tag))
        return ("get", step.queue, seen)
    _settle(conn, script, channel, tag, step.then)
    channel.close()
    return ("get", step.queue, seen)


def _settle(conn: Connection, script: Script, channel: Any, tag: int, then: str) -> None:
    if then == "ack":
        channel.basic_ack(tag)
        return
    channel.basic_reject(tag, requeue=then == "requeue")
    settled(conn, [*script.queues, DEAD])


def outcomes(script: Script, trace: list[Any]) -> list[Any]:
    """The trace with instants taken out: where a script waits for TTL or x-expires, the order in
    which copies reached the dead-letter queue depends on timers, so that queue is compared sorted."""
    if not any(isinstance(step, Sleep) for step in script.steps):
        return trace
    return [(DEAD, sorted(row[1])) if row[0] == DEAD else row for row in trace]
