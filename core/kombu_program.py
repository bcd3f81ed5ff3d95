"""A scenario as a runnable kombu program in the shape of kombu's "smart task router" tutorial, with
the tutorial's defects fixed, so what a learner watched in mqscope can be run on their own broker.

The program carries the topology and script as Python literals (repr: any name or key survives) and
needs nothing from mqscope on RabbitMQ; on mqscope:// it imports mqscope's broker if it can.
"""

from __future__ import annotations

import pprint
from typing import Any

from core.scenario import Scenario


def _literal(value: Any) -> str:
    return pprint.pformat(value, width=100, sort_dicts=False)


def program_data(scenario: Scenario) -> dict[str, Any]:
    """The plain data the program runs: exchanges, queues (with bindings), consumers, the script."""
    topology = scenario.topology
    return {
        "EXCHANGES": [
            {
                "name": e.name,
                "type": e.type,
                "durable": e.durable,
                "arguments": dict(e.to_kombu().arguments or {}),
                "bindings": [
                    {"exchange": b.exchange, "routing_key": b.routing_key, "arguments": dict(b.arguments)}
                    for b in e.bindings
                ],
            }
            for e in topology.exchanges
        ],
        "QUEUES": [
            {
                "name": q.name,
                "durable": q.durable,
                "arguments": q.queue_arguments(),
                "bindings": [
                    {"exchange": b.exchange, "routing_key": b.routing_key, "arguments": dict(b.arguments)}
                    for b in q.bindings
                ],
            }
            for q in topology.queues
        ],
        "CONSUMERS": [
            {
                "name": c.name,
                "queues": list(c.queues),
                "prefetch": c.prefetch,
                "work_seconds": c.work_seconds,
                "on_failure": c.on_failure,
                "arguments": dict(c.arguments),
            }
            for c in topology.consumers
        ],
        "SCRIPT": [
            {
                "exchange": s.exchange,
                "routing_key": s.routing_key,
                "body": s.body,
                "headers": dict(s.headers),
                "after": s.after,
                "mandatory": s.mandatory,
                "expiration": s.expiration,
                "priority": s.priority,
            }
            for s in scenario.publishes
        ],
    }


def to_kombu_program(scenario: Scenario) -> str:
    """The program's source text."""
    data = "\n\n".join(f"{name} = {_literal(value)}" for name, value in program_data(scenario).items())
    title = "".join(c if c.isprintable() else "?" for c in " ".join(scenario.title.split()))
    name = "".join(c if c.isprintable() else "?" for c in scenario.name)
    header = f"#!/usr/bin/env python3\n# {title} (mqscope scenario {name})\n"
    return header + _BODY.replace("#DATA#", data)


_BODY = '''"""An mqscope scenario as a kombu program, written by `mqscope --export kombu`.

Run it with a broker URL:

    python THIS_FILE.py amqp://guest:guest@localhost:5672//   # RabbitMQ
    python THIS_FILE.py mqscope://                             # mqscope's in-process broker

It declares the topology, starts one Worker thread per consumer, publishes the script, prints each
settlement (ACKED, REQUEUED, REJECTED, DROPPED; RETURNED for an unroutable mandatory message) as it
happens, and exits 0 once nothing is in hand or waiting; 3 if that takes longer than the optional
second argument (seconds, default 60). A message that expires in a queue without a dead-letter
exchange, or an unroutable one that is not mandatory, is never seen by any client, so not printed.

The shape of kombu's "smart task router" tutorial, with its defects fixed:
- each delivery is handled by the queue it came from, never by its routing key (the tutorial
  "transcoded" the audit copy of every video message too);
- a message whose handler fails is always settled, requeued, rejected (dead-lettered when its queue
  has a dead-letter exchange) or acked and dropped, per the consumer's on_failure; the tutorial only
  logged the error and left it unacked, so with prefetch 1 its worker stalled for good;
- every thread opens its own connection (kombu connections are not thread-safe; the tutorial
  shared one between its worker and its producer).
A body with "fail": true fails its first delivery; "fail": N fails N deliveries.
"""

from __future__ import annotations

import sys
import threading
import time
from functools import partial

from kombu import Connection, Exchange, Producer, Queue
from kombu.mixins import ConsumerMixin

try:
    # mqscope:// is registered with kombu when mqscope's broker is imported (mqscope installed or on
    # sys.path); newer mqscope registers it without this import. RabbitMQ needs nothing from mqscope.
    import core.broker  # noqa: F401
except ImportError:
    pass

#DATA#

QUIET_SECONDS = 1.0
"""Done when nothing was settled for this long, nothing is in hand and no watched queue has a
message ready (watched: consumed queues and queues whose messages expire)."""

_print_lock = threading.Lock()
_state = threading.Condition()
_attempts: dict[str, int] = {}
_in_hand = [0]
_last_settled = [time.monotonic()]


def say(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


def declare(connection: Connection) -> None:
    """Exchanges, then exchange-to-exchange bindings, then queues with their arguments and bindings:
    the order a broker accepts (both ends of a binding exist before it)."""
    channel = connection.channel()
    exchanges = {
        e["name"]: Exchange(e["name"], type=e["type"], durable=e["durable"], arguments=e["arguments"])
        for e in EXCHANGES
    }
    exchanges = {name: exchange(channel) for name, exchange in exchanges.items()}
    for exchange in exchanges.values():
        exchange.declare()
    for e in EXCHANGES:
        for b in e["bindings"]:  # this exchange (the destination) takes what the source accepts
            exchanges[e["name"]].bind_to(
                exchange=b["exchange"], routing_key=b["routing_key"], arguments=b["arguments"] or None
            )
    for q in QUEUES:
        Queue(q["name"], durable=q["durable"], queue_arguments=q["arguments"])(channel).declare()
        for b in q["bindings"]:
            channel.queue_bind(
                queue=q["name"],
                exchange=b["exchange"],
                routing_key=b["routing_key"],
                arguments=b["arguments"] or None,
            )
    channel.close()


class SimulatedFailure(Exception):
    """The handler failed (the body asked for it)."""


def handle(queue: str, body: object, attempt: int, work_seconds: float) -> None:
    """The work for one delivery. Choose per queue here (`queue`), never by the routing key."""
    time.sleep(work_seconds)
    fail = body.get("fail") if isinstance(body, dict) else None
    if fail is True and attempt == 1:
        raise SimulatedFailure("body asked to fail on its first delivery")
    if isinstance(fail, int) and not isinstance(fail, bool) and attempt <= fail:
        raise SimulatedFailure(f"body asked to fail {fail} time(s); this was attempt {attempt}")


class Worker(ConsumerMixin):
    """One consumer, like the tutorial's Worker, but on a connection of its own and with one kombu
    Consumer per queue, so each delivery's callback knows the queue it came from."""

    def __init__(self, connection: Connection, spec: dict, ready: threading.Event) -> None:
        self.connection = connection
        self.spec = spec
        self.ready = ready

    def get_consumers(self, Consumer, channel):  # noqa: N803 (ConsumerMixin's own signature)
        return [
            Consumer(
                queues=[Queue(queue, no_declare=True, consumer_arguments=self.spec["arguments"] or None)],
                callbacks=[partial(self.on_message, queue)],
                accept=["json"],
                prefetch_count=self.spec["prefetch"] or None,
            )
            for queue in self.spec["queues"]
        ]

    def on_consume_ready(self, connection, channel, consumers, **kwargs) -> None:
        self.ready.set()

    def on_message(self, queue: str, body: object, message) -> None:
        msg = str(message.properties.get("message_id") or "?")
        name = self.spec["name"]
        with _state:
            _in_hand[0] += 1
            attempt = _attempts[msg] = _attempts.get(msg, 0) + 1
        try:
            handle(queue, body, attempt, self.spec["work_seconds"])
        except Exception as exc:  # any failure is settled, never left unacked
            policy = self.spec["on_failure"]
            if policy == "requeue":
                message.requeue()
                say(f"REQUEUED {msg} to {queue} by {name}: {exc}")
            elif policy == "dead_letter":
                message.reject(requeue=False)
                say(f"REJECTED {msg} from {queue} by {name}: {exc}")
            else:
                message.ack()
                say(f"DROPPED {msg} from {queue} by {name}: {exc}")
        else:
            message.ack()
            say(f"ACKED {msg} from {queue} by {name}")
        finally:
            with _state:
                _in_hand[0] -= 1
                _last_settled[0] = time.monotonic()


def returned(exception, exchange, routing_key, message) -> None:
    msg = message.properties.get("message_id") or "?"
    say(f"RETURNED {msg} from {exchange or '(default)'} with {routing_key!r}: {exception}")


def publish(connection: Connection) -> None:
    producer = Producer(connection.channel(), on_return=returned)
    for number, step in enumerate(SCRIPT, start=1):
        time.sleep(step["after"])
        producer.publish(
            step["body"],
            exchange=step["exchange"],
            routing_key=step["routing_key"],
            headers=step["headers"],
            mandatory=step["mandatory"],
            expiration=step["expiration"],
            priority=step["priority"] or 0,  # kombu's default: RabbitMQ reads no priority as 0
            message_id=f"m{number}",
            serializer="json",
        )
    with _state:
        _last_settled[0] = time.monotonic()


def quiet(channel) -> bool:
    with _state:
        if _in_hand[0] or time.monotonic() - _last_settled[0] < QUIET_SECONDS:
            return False
    consumed = {queue for spec in CONSUMERS for queue in spec["queues"]}
    for q in QUEUES:
        if q["name"] in consumed or "x-message-ttl" in q["arguments"]:
            if channel.queue_declare(queue=q["name"], passive=True).message_count:
                return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(f"usage: {argv[0]} BROKER_URL [SECONDS]", file=sys.stderr)
        return 2
    url, seconds = argv[1], float(argv[2]) if len(argv) > 2 else 60.0
    deadline = time.monotonic() + seconds
    with Connection(url, transport_options={"confirm_publish": True}) as connection:
        declare(connection)
        workers = [Worker(Connection(url), spec, threading.Event()) for spec in CONSUMERS]
        threads = [threading.Thread(target=w.run, name=w.spec["name"], daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for worker in workers:
            worker.ready.wait(10)
        publish(connection)
        channel = connection.channel()
        while not quiet(channel):
            if time.monotonic() > deadline:
                print(f"not settled after {seconds:g}s", file=sys.stderr)
                return 3
            time.sleep(0.2)
    for worker in workers:
        worker.should_stop = True
    for thread in threads:
        thread.join(3)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''
