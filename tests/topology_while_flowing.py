"""One script of topology changes made while messages flow, run the same on mqscope:// and RabbitMQ.

Each step changes the topology through the engine (never the broker directly), publishes, and waits
for the event that proves the change took effect, so a broker that ignored a change fails the step.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from core.engine import Engine
from core.events import FlowEvent, Routed, TopologyChanged
from core.ledger import Ledger
from core.runner import LoopRunner
from core.scenario import Scenario, load_scenario
from core.topology import ConsumerSpec, QueueSpec
from core.topology_changes import declare, delete, queue_binding

WAIT = 20.0


def seed_without_work(prefix: str = "") -> Scenario:
    """The tutorial's topology, no simulated work, names prefixed (a shared RabbitMQ stays tidy)."""
    seed = load_scenario("seed")
    topology = seed.topology
    exchanges = tuple(dataclasses.replace(e, name=prefix + e.name) for e in topology.exchanges)
    queues = tuple(
        dataclasses.replace(
            q,
            name=prefix + q.name,
            bindings=tuple(dataclasses.replace(b, exchange=prefix + b.exchange) for b in q.bindings),
        )
        for q in topology.queues
    )
    consumers = tuple(
        dataclasses.replace(c, work_seconds=0.0, queues=tuple(prefix + q for q in c.queues))
        for c in topology.consumers
    )
    new = dataclasses.replace(topology, exchanges=exchanges, queues=queues, consumers=consumers)
    return dataclasses.replace(seed, topology=new, publishes=())


class Watch:
    """Drains the engine's stream on the test's thread and waits for the event a step expects."""

    def __init__(self, engine: Engine, runner: LoopRunner) -> None:
        self.engine, self.runner = engine, runner
        self.events: list[FlowEvent] = []
        self.ledger = Ledger(engine.topology)
        """What every view reads, fed the same events: it must follow the topology too."""

    def until(self, wanted: Callable[[FlowEvent], bool], what: str) -> FlowEvent:
        deadline = time.monotonic() + WAIT
        seen = 0
        while True:
            for event in self.events[seen:]:
                if wanted(event):
                    return event
            seen = len(self.events)
            self.runner.raise_first_error()
            assert time.monotonic() < deadline, f"never saw {what}; last events: {self.events[-8:]}"
            self.engine.events.wait(0.05)
            batch = self.engine.events.drain()
            self.events.extend(batch)
            self.ledger.feed_all(batch)

    def routed(self, msg: str) -> tuple[str, ...]:
        event = self.until(lambda e: isinstance(e, Routed) and e.msg == msg, f"routed {msg}")
        assert isinstance(event, Routed)
        return event.queues

    def change(self, what: str) -> TopologyChanged:
        event = self.until(
            lambda e: isinstance(e, TopologyChanged) and e.origin == "test" and _named(e) == what,
            f"topology change {what}",
        )
        assert isinstance(event, TopologyChanged)
        return event

    def of(self, kind: str, **fields: Any) -> list[Any]:
        matching = [e for e in self.events if e.kind == kind]
        return [e for e in matching if all(getattr(e, k) == v for k, v in fields.items())]


def _named(event: TopologyChanged) -> str:
    return f"{event.change.op} {event.change.kind} {event.change.name}"


def exercise(engine: Engine, prefix: str = "") -> Watch:
    """Bind, unbind, add a queue and fill it, delete it, add and retire consumers, all while running.

    Returns the Watch so a caller can check broker-specific details; every step asserts its effect.
    """
    exchange, video, audit = prefix + "media_exchange", prefix + "video_queue", prefix + "audit_queue"
    extra = prefix + "extra_queue"
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    watch = Watch(engine, runner)
    change = engine.change_topology
    try:
        assert watch.routed(engine.publish(exchange, "user.login")) == (audit,)

        change(declare(queue_binding(exchange, video, "user.*")), origin="test")
        watch.change(f"declare binding {exchange} -> {video} ('user.*')")
        assert watch.routed(engine.publish(exchange, "user.login")) == tuple(sorted((audit, video)))

        change(delete(queue_binding(exchange, audit, "#")), origin="test")
        watch.change(f"delete binding {exchange} -> {audit} ('#')")
        assert watch.routed(engine.publish(exchange, "video.upload")) == (video,)

        # A queue nobody consumes fills up; deleting it accounts for every copy it held.
        change(declare(QueueSpec(extra)), origin="test")
        change(declare(queue_binding(exchange, extra, "#")), origin="test")
        held = [engine.publish(exchange, f"report.{n}") for n in range(3)]
        for msg in held:
            assert watch.routed(msg) == (extra,)
        change(delete(QueueSpec(extra)), origin="test")
        watch.change(f"delete queue {extra}")
        assert engine.topology.queue(extra) is None
        # Nothing vanishes silently: the copies the deleted queue held are settled as dropped.
        for msg in held:
            assert watch.ledger.fate(msg) == {extra: "dropped (its queue was deleted)"}, msg
        assert extra not in watch.ledger.queues and watch.ledger.topology == engine.topology

        # A worker added while running gets its own queue's messages; then the first one's prefetch
        # changes in place.
        helper_queue = prefix + "helper_queue"
        change(declare(QueueSpec(helper_queue)), origin="test")
        change(declare(queue_binding(exchange, helper_queue, "video.*")), origin="test")
        change(declare(ConsumerSpec("helper", (helper_queue,), prefetch=1)), origin="test")
        watch.change("declare consumer helper")
        helped = engine.publish(exchange, "video.help")
        watch.until(
            lambda e: e.kind == "acked" and e.msg == helped and e.queue == helper_queue, "helper acks"
        )
        change(delete(ConsumerSpec("helper", ())), origin="test")
        change(delete(QueueSpec(helper_queue)), origin="test")  # allowed once nobody consumes it
        watch.change(f"delete queue {helper_queue}")
        worker = engine.topology.consumer("worker")
        assert worker is not None
        change(declare(dataclasses.replace(worker, prefetch=5)), origin="test")
        watch.change("declare consumer worker")
        last = engine.publish(exchange, "video.last")
        watch.until(lambda e: e.kind == "acked" and e.msg == last, "the last message acked by worker")
        assert [c.name for c in engine.topology.consumers] == ["worker"]
        assert engine.topology.consumer("worker") == dataclasses.replace(worker, prefetch=5)
        deadline = time.monotonic() + WAIT
        while [name for name in runner.running if name.startswith("consumer:helper")]:
            assert time.monotonic() < deadline, "the deleted consumer's loop is still running"
            time.sleep(0.01)
        return watch
    finally:
        runner.shutdown()
