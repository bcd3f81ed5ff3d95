"""The in-process broker under the real Engine and headless runner: what the UI animates is what
the broker did (routed, requeued, redelivered after a crash, dead-lettered, expired, returned)."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from broker_support import WAIT, fresh_url
from core.backends.memory import reset_memory_transport
from core.broker import reset_brokers
from core.engine import Engine
from core.events import FlowEvent
from core.headless import HeadlessOptions, run_headless
from core.ledger import Ledger
from core.runner import LoopRunner
from core.scenario import Scenario, load_scenario
from core.topology import ConsumerSpec


@pytest.fixture(autouse=True)
def _clean_brokers() -> Iterator[None]:
    """The default `mqscope://` broker and memory:// are process-wide: start and end empty."""
    reset_brokers()
    reset_memory_transport()
    yield
    reset_brokers()
    reset_memory_transport()


def _with_consumer(scenario: Scenario, name: str, **changes: Any) -> Scenario:
    consumers = tuple(
        dataclasses.replace(c, **changes) if c.name == name else c
        for c in scenario.topology.consumers
    )
    topology = dataclasses.replace(scenario.topology, consumers=consumers)
    return dataclasses.replace(scenario, topology=topology)


def _drive(
    engine: Engine,
    publish: Callable[[], int],
    on_event: Callable[[FlowEvent], None] = lambda _e: None,
    timeout: float = 3 * WAIT,
) -> list[FlowEvent]:
    """Run producer and consumers in threads until everything published has settled."""
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    events: list[FlowEvent] = []
    ledger = Ledger(engine.topology, keep=0, stories=False)
    try:
        expected = publish()
        deadline = time.monotonic() + timeout
        while not (ledger.published >= expected and ledger.all_settled):
            assert time.monotonic() < deadline, f"unsettled: {ledger.unsettled()}"
            engine.events.wait(0.05)
            for event in engine.events.drain():
                events.append(event)
                ledger.feed(event)
                on_event(event)
            runner.raise_first_error()
    finally:
        runner.shutdown()
    return events


def _of(events: list[FlowEvent], kind: str) -> list[Any]:
    return [e for e in events if e.kind == kind]


@pytest.mark.parametrize("url", ["mqscope://", "memory://"])
def test_key_video_on_the_seed_and_where_memory_differs(url: str) -> None:
    scenario = _with_consumer(load_scenario("seed"), "worker", work_seconds=0.0)
    out = io.StringIO()
    options = HeadlessOptions(publish=["video"], play_script=False, timeout=3 * WAIT)
    assert run_headless(Engine(scenario, url, speed=4), options, out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    (routed,) = [e for e in events if e["event"] == "routed"]
    notices = [e["text"] for e in events if e["event"] == "notice"]
    if url.startswith("mqscope"):
        assert routed["queues"] == ["audit_queue", "video_queue"]
        assert routed["rabbitmq_queues"] is None and notices == []
    else:
        assert routed["queues"] == ["audit_queue"]
        assert routed["rabbitmq_queues"] == ["audit_queue", "video_queue"]
        assert any("RabbitMQ routes it to audit_queue, video_queue" in n for n in notices)


@pytest.mark.parametrize("url", ["mqscope://crash", "memory://"])
def test_a_crashed_consumer_s_message_comes_back_redelivered(url: str) -> None:
    """The tutorial's promise: true on mqscope:// (as on RabbitMQ); memory:// loses it, and says so."""
    engine = Engine(load_scenario("seed"), url, speed=4)
    # Frozen but for one action (the publish): the consumer then holds its delivery, unacked, at
    # the gate, so the crash lands with the copy in hand however slowly this test's thread runs.
    engine.gate.pause()
    engine.gate.step(1)
    crashed = threading.Event()

    def crash_on_first_delivery(event: FlowEvent) -> None:
        if event.kind == "delivered" and not crashed.is_set():
            crashed.set()
            engine.controls["worker"].crash()
            engine.gate.resume()  # the handler starts, finds the crash request and crashes

    def publish() -> int:
        engine.publish("media_exchange", "user.login", {"user": "admin"})
        return 1

    events = _drive(engine, publish, crash_on_first_delivery)
    crashes = [e.detail for e in _of(events, "consumer_state") if e.state == "crashed"]
    assert crashes == ["connection dropped holding 1 unacked message(s)"]
    deliveries = [(e.queue, e.redelivered) for e in _of(events, "delivered")]
    if url.startswith("memory"):
        assert deliveries == [("audit_queue", False)]
        (dropped,) = _of(events, "dropped")
        assert "RabbitMQ would requeue it" in dropped.reason
        assert _of(events, "requeued") == [] and _of(events, "acked") == []
        return
    requeued = _of(events, "requeued")
    assert [(e.queue, "closed" in e.reason) for e in requeued] == [("audit_queue", True)]
    assert deliveries == [("audit_queue", False), ("audit_queue", True)]
    assert [e.queue for e in _of(events, "acked")] == ["audit_queue"]


def test_requeue_policy_redelivers_in_place_with_no_copies_elsewhere() -> None:
    scenario = _with_consumer(load_scenario("seed"), "worker", work_seconds=0.0)
    engine = Engine(scenario, fresh_url(), speed=4)

    def publish() -> int:
        engine.publish("media_exchange", "video.upload", {"fail": True})
        return 1

    events = _drive(engine, publish)
    requeued = [(e.queue, e.reason) for e in _of(events, "requeued")]
    assert requeued and all(reason == "rejected" for _q, reason in requeued)
    for queue in ("audit_queue", "video_queue"):
        delivered = [e for e in _of(events, "delivered") if e.queue == queue]
        back = [q for q, _r in requeued if q == queue]
        # Every delivery after the first is a requeued copy coming back: never a duplicate.
        assert len(delivered) == 1 + len(back)
        assert [e.redelivered for e in delivered] == [False] + [True] * len(back)
    assert sorted(e.queue for e in _of(events, "acked")) == ["audit_queue", "video_queue"]


def test_dead_letter_scenario_rejects_expiry_and_unroutable() -> None:
    scenario = load_scenario("dead_letter")
    engine = Engine(scenario, fresh_url(), speed=4)
    # Paused from the start, billing never subscribes: both orders wait ready, and the one at the
    # head expires (RabbitMQ expires a queue's head only, so the short-lived one goes first).
    engine.controls["billing"].paused.set()

    def publish() -> int:
        engine.publish("orders", "order.created", {"order": 2}, expiration=0.2)
        engine.publish("orders", "order.created", {"order": 1})
        engine.publish("orders", "order.cancelled", {"order": 3})
        return 3

    def resume_after_expiry(event: FlowEvent) -> None:
        if event.kind == "expired":
            engine.controls["billing"].paused.clear()

    events = _drive(engine, publish, resume_after_expiry)
    msgs = [e.msg for e in _of(events, "published")]
    (expired,) = _of(events, "expired")
    assert (expired.msg, expired.queue) == (msgs[0], "orders_queue")
    (dead,) = _of(events, "dead_lettered")
    assert (dead.msg, dead.reason, dead.queues) == (msgs[0], "expired", ("orders_dead",))
    acked = sorted((e.msg == msgs[1], e.queue) for e in _of(events, "acked"))
    assert acked == [(False, "orders_dead"), (True, "orders_queue")]
    unroutable = [e.msg for e in _of(events, "routed") if not e.queues]
    assert unroutable == [msgs[2]]


def test_mandatory_publish_with_no_route_is_returned_through_the_engine() -> None:
    engine = Engine(load_scenario("dead_letter"), fresh_url(), speed=4)

    def publish() -> int:
        engine.publish("orders", "order.refunded", {"order": 9}, mandatory=True)
        return 1

    events = _drive(engine, publish)
    (returned,) = _of(events, "returned")
    assert (returned.exchange, returned.routing_key) == ("orders", "order.refunded")


def test_headers_scenario_routes_by_headers() -> None:
    out = io.StringIO()
    engine = Engine(load_scenario("headers"), fresh_url(), speed=4)
    assert run_headless(engine, HeadlessOptions(timeout=3 * WAIT), out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    routed = [e["queues"] for e in events if e["event"] == "routed"]
    assert routed == [["any_pdf_or_log", "pdf_reports"], ["any_pdf_or_log"]]


def test_queue_depths_come_from_the_broker() -> None:
    consumer = ConsumerSpec("worker", ("video_queue", "audit_queue"), prefetch=1)
    scenario = load_scenario("seed")
    scenario = dataclasses.replace(
        scenario, topology=dataclasses.replace(scenario.topology, consumers=(consumer,))
    )
    engine = Engine(scenario, fresh_url(), speed=4)
    engine.controls["worker"].paused.set()
    seen: list[tuple[str, int, int]] = []

    def watch(event: FlowEvent) -> None:
        if event.kind == "queue_depth":
            seen.append((event.queue, event.ready, event.unacked))  # type: ignore[attr-defined]
            if ("audit_queue", 3, 0) in seen:
                engine.controls["worker"].paused.clear()

    def publish() -> int:
        for n in range(3):
            engine.publish("media_exchange", "user.login", {"n": n})
        return 3

    _drive(engine, publish, watch)
    # Paused from the start, the worker never subscribed: the broker holds all three ready.
    assert ("audit_queue", 3, 0) in seen
    # Resumed with prefetch 1, it never holds more than one unacked.
    assert max(unacked for queue, _ready, unacked in seen if queue == "audit_queue") <= 1
