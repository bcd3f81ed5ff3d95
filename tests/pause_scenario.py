"""Pausing a consumer, driven step by step through the real Engine (real threads, real broker).

One script for every broker, so mqscope:// and RabbitMQ are held to the same events and depths:

1. `worker` (prefetch 2) starts paused: it never subscribes, so A and B (B with a TTL) wait ready.
2. Everything is frozen (the engine's step gate), `worker` resumes: it subscribes and the broker
   sends it A and B at once. Its callback reports A delivered, then waits at the gate; `worker` is
   paused and the gate opened. A is finished and acked; B, prefetched but not started, goes back.
3. While paused: B is ready in the queue, nobody consumes it; B's TTL runs out there (dead-lettered
   to `pause_dead`, where `janitor` acks it); C, published now, waits ready.
4. Resumed, `worker` takes C.

Every wait settles on an event or a depth report with a deadline; nothing sleeps and then asserts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection

from core.engine import Engine
from core.events import (
    Acked,
    ConsumerState,
    DeadLettered,
    Delivered,
    Expired,
    FlowEvent,
    Published,
    QueueDepth,
    Requeued,
)
from core.runner import LoopRunner
from core.scenario import Scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology

QUEUE, DEAD = "pause_q", "pause_dead"
B_TTL = 4.0
"""Seconds B lives: long enough to be seen ready after it is handed back, short enough to wait for."""
SPEED = 4.0


def pause_scenario() -> Scenario:
    topology = Topology(
        exchanges=(ExchangeSpec("pause_ex", "direct"), ExchangeSpec("pause_dlx", "fanout")),
        queues=(
            QueueSpec(QUEUE, (BindingSpec("pause_ex", "job"),), dead_letter_exchange="pause_dlx"),
            QueueSpec(DEAD, (BindingSpec("pause_dlx", ""),)),
        ),
        consumers=(
            ConsumerSpec("worker", (QUEUE,), prefetch=2, work_seconds=0.4),
            ConsumerSpec("janitor", (DEAD,), prefetch=5),
        ),
    ).validate()
    return Scenario(name="pause", title="pause", topology=topology, publishes=())


@dataclass
class Running:
    """An engine's loops under core's LoopRunner; the test thread is the one event reader."""

    engine: Engine
    runner: LoopRunner
    events: list[FlowEvent] = field(default_factory=list)

    def wait_for(self, what: str, found: Callable[[list[FlowEvent]], Any], timeout: float = 30.0) -> Any:
        """Drain events until `found(events)` is truthy; returns it. Fails after `timeout` seconds,
        or at once with the traceback when an engine loop failed."""
        deadline = time.monotonic() + timeout
        while True:
            self.events.extend(self.engine.events.drain())
            self.runner.raise_first_error()
            result = found(self.events)
            if result:
                return result
            left = deadline - time.monotonic()
            assert left > 0, f"no {what} within {timeout}s; events: {[e.to_json() for e in self.events]}"
            self.engine.events.wait(min(0.05, left))

    def index(self, what: str, match: Callable[[FlowEvent], bool], after: int = -1) -> int:
        """Wait for the first event after position `after` that matches; returns its position."""
        return int(
            self.wait_for(
                what,
                lambda events: next((i + 1 for i, e in enumerate(events) if i > after and match(e)), 0),
            )
            - 1
        )


@contextmanager
def running(engine: Engine) -> Iterator[Running]:
    runner = LoopRunner(on_error=engine.report_failure)
    run = Running(engine, runner)
    runner.start_all(engine.loops(play_script=False))
    try:
        yield run
    finally:
        engine.gate.resume()
        runner.shutdown()
        run.events.extend(engine.events.drain())
    runner.raise_first_error()


def broker_view(url: str, queue: str) -> tuple[int, int]:
    """(ready, consumers) as the broker itself answers a passive queue.declare on a new connection."""
    with Connection(url) as conn:
        ok = conn.default_channel.queue_declare(queue=queue, passive=True)
        return int(ok.message_count), int(ok.consumer_count)


def depth_is(queue: str, ready: int, unacked: int) -> Callable[[FlowEvent], bool]:
    return lambda e: isinstance(e, QueueDepth) and (e.queue, e.ready, e.unacked) == (queue, ready, unacked)


def state_is(state: str) -> Callable[[FlowEvent], bool]:
    return lambda e: isinstance(e, ConsumerState) and e.consumer == "worker" and e.state == state


@dataclass
class PauseRun:
    """What the scenario saw: the events, the message ids, and the broker's answers on the way."""

    events: list[FlowEvent]
    a: str
    b: str
    c: str
    ready_while_paused: list[tuple[int, int]]
    """broker_view of the queue: before the first resume, after B came back, after C was published."""

    def of(self, kind: type[FlowEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def worker_states(self) -> list[str]:
        return [e.state for e in self.of(ConsumerState) if e.consumer == "worker"]


def run_pause_scenario(url: str) -> PauseRun:
    """Steps 1-4 of the module docstring on `url`; asserts each step's own events as it goes."""
    engine = Engine(pause_scenario(), url, speed=SPEED)
    worker = engine.controls["worker"]
    worker.paused.set()
    a = engine.publish("pause_ex", "job", {"n": "A"})
    b = engine.publish("pause_ex", "job", {"n": "B"}, expiration=B_TTL)
    seen: list[tuple[int, int]] = []
    with running(engine) as run:
        # 1. Paused from the start: never subscribed; both wait ready.
        run.index("worker paused", state_is("paused"))
        run.index("A and B ready", depth_is(QUEUE, 2, 0))
        seen.append(broker_view(url, QUEUE))

        # 2. Subscribe with everything frozen, so B is surely prefetched while A is in hand.
        engine.gate.pause()
        worker.paused.clear()
        run.index("A delivered", lambda e: isinstance(e, Delivered) and e.msg == a)
        worker.paused.set()
        engine.gate.resume()
        acked_a = run.index("A acked", lambda e: isinstance(e, Acked) and e.msg == a)
        back = run.index(
            "B handed back", lambda e: isinstance(e, Requeued) and e.msg == b and e.queue == QUEUE
        )
        assert acked_a < back, "A is finished before the worker lets go of B"
        paused = run.index("worker paused again", state_is("paused"), after=back)

        # 3. Paused: B waits ready (and nobody holds it) until its TTL runs out in the queue. (Ready 1
        # can only be B back; counted from A's ack, as RabbitMQ may show it before Requeued is out.)
        b_ready = run.index("B ready, nothing unacked", depth_is(QUEUE, 1, 0), after=acked_a)
        seen.append(broker_view(url, QUEUE))
        run.index("B expired", lambda e: isinstance(e, Expired) and e.msg == b)
        run.index("B acked from the dead-letter queue", lambda e: isinstance(e, Acked) and e.msg == b)
        # (Counted from B ready: on RabbitMQ the expiry is learned later, from x-death.)
        gone = run.index("B gone from the queue", depth_is(QUEUE, 0, 0), after=b_ready)
        c = engine.publish("pause_ex", "job", {"n": "C"})
        c_ready = run.index("C ready", depth_is(QUEUE, 1, 0), after=gone)
        seen.append(broker_view(url, QUEUE))
        assert not [e for e in run.events[paused + 1 :] if isinstance(e, Delivered) and e.queue == QUEUE]

        # 4. Resumed: C is delivered and acked.
        worker.paused.clear()
        run.index("C acked", lambda e: isinstance(e, Acked) and e.msg == c)
        run.index("queue empty again", depth_is(QUEUE, 0, 0), after=c_ready)
    return PauseRun(run.events, a, b, c, seen)


def assert_paused_as_rabbitmq_does(result: PauseRun) -> None:
    """What every RabbitMQ-faithful broker must show for the scenario, event for event."""
    a, b, c = result.a, result.b, result.c
    assert [e.msg for e in result.of(Published)] == [a, b, c]
    worker = [(e.msg, e.redelivered) for e in result.of(Delivered) if e.consumer == "worker"]
    assert worker == [(a, False), (b, False), (c, False)]  # B once: handed back, then it expired
    assert [(e.msg, e.queue, e.reason) for e in result.of(Requeued)] == [(b, QUEUE, "consumer paused")]
    assert [(e.msg, e.queue) for e in result.of(Expired)] == [(b, QUEUE)]
    assert [(e.msg, e.queue, e.reason, e.queues) for e in result.of(DeadLettered)] == [
        (b, QUEUE, "expired", (DEAD,))
    ]
    assert sorted((e.msg, e.queue) for e in result.of(Acked)) == sorted([(a, QUEUE), (b, DEAD), (c, QUEUE)])
    assert result.worker_states()[:4] == ["paused", "idle", "paused", "idle"]
    # The broker's own count: ready, and no consumer subscribed while paused.
    assert result.ready_while_paused == [(2, 0), (1, 0), (1, 0)]


def story(result: PauseRun) -> list[tuple[str, str, str, str]]:
    """The pausing queue's events in order, with ids replaced by A/B/C: comparable across brokers."""
    role = {result.a: "A", result.b: "B", result.c: "C"}
    out: list[tuple[str, str, str, str]] = []
    for e in result.events:
        queue = getattr(e, "queue", None)
        if e.msg not in role or queue != QUEUE or isinstance(e, QueueDepth):
            continue
        extra = getattr(e, "reason", "") or str(getattr(e, "redelivered", ""))
        out.append((e.kind, role[e.msg], queue, extra))
    return out
