"""The broker goes away mid-run: mqscope says so, reconnects by itself, and loses nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from engine_runner import EngineRun, Run, reset_rabbit
from kombu import Connection, Producer
from rabbit_support import RabbitBroker

from core.backends import backend_for
from core.engine import Engine
from core.events import BrokerStatus, ConsumerState, EventStream, FlowEvent, Published
from core.runner import LoopRunner
from core.scenario import Scenario, load_scenario
from core.tap import TapLoop, TapSpec, tap_scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology

pytestmark = pytest.mark.rabbitmq


def outage_scenario(work_seconds: float = 0.05) -> Scenario:
    topology = Topology(
        exchanges=(ExchangeSpec("outage_exchange", "topic"),),
        queues=(
            QueueSpec("outage_video", (BindingSpec("outage_exchange", "video.#"),)),
            QueueSpec("outage_audit", (BindingSpec("outage_exchange", "#"),)),
        ),
        consumers=(
            ConsumerSpec("worker", ("outage_video", "outage_audit"), prefetch=1, work_seconds=work_seconds),
        ),
    ).validate()
    return Scenario(name="outage", title="broker outage", topology=topology, publishes=())


def went_away(run: Run) -> bool:
    return any(
        isinstance(e, BrokerStatus) and e.state in ("disconnected", "reconnecting") for e in run.events
    )


@pytest.mark.parametrize("outage", ["app", "node"])
def test_broker_outage_recovers_and_loses_nothing(rabbit: RabbitBroker, outage: str) -> None:
    """app: rabbitmqctl stop_app/start_app (connections closed, node up); node: the whole node
    stops and starts again on the same port with the same data (sockets die with it)."""
    scenario = outage_scenario()
    reset_rabbit(rabbit.url, scenario.topology)
    engine = Engine(scenario, rabbit.url, speed=1.0)
    keys = ["video.upload", "user.login"]
    before = [engine.make_request("outage_exchange", keys[n % 2], {"n": n}) for n in range(20)]
    during = [engine.make_request("outage_exchange", keys[n % 2], {"n": n}) for n in range(20, 40)]
    with EngineRun(engine) as running:
        running.enqueue(before)
        assert running.wait_for(lambda r: len(r.acks()) >= 5, 30), "nothing acked before the outage"
        if outage == "app":
            rabbit.control("stop-app")
            try:
                running.enqueue(during)
                assert running.wait_for(went_away, 30), "the status never said the broker went away"
            finally:
                rabbit.control("start-app")
        else:
            restart = LoopRunner()
            restart.start("rabbitmq restart", lambda _should_stop: rabbit.control("restart"))
            try:
                assert running.wait_for(went_away, 60), "the status never said the broker went away"
                running.enqueue(during)
            finally:
                restart.shutdown(180)
            restart.raise_first_error()
        run = running.settle(len(before) + len(during), timeout=120)
    statuses = [e.state for e in run.of(BrokerStatus)]
    last_down = max(i for i, s in enumerate(statuses) if s in ("disconnected", "reconnecting"))
    assert "connected" in statuses[last_down:], statuses
    assert any(e.state == "disconnected" for e in run.of(ConsumerState)), "consumers never noticed"
    ids = [r.msg for r in before + during]
    routed = run.routed()
    acks = run.acks()
    for msg in ids:
        assert msg in routed, f"{msg} was never published"
        for queue in routed[msg]:
            assert acks.get((msg, queue), 0) >= 1, f"{msg} lost in {queue}"
    expected_copies = sum(len(routed[m]) for m in ids)
    assert expected_copies == 60  # 20 video keys x 2 queues + 20 others x 1
    for event in run.events:
        text = str(event.to_json())
        assert "Traceback" not in text


def test_tap_survives_an_outage(rabbit: RabbitBroker) -> None:
    """The tap's own queue dies with the connection; after the outage a new one is bound by itself."""
    seed = load_scenario("seed")
    reset_rabbit(rabbit.url, seed.topology)
    with Connection(rabbit.url) as conn:
        seed.topology.kombu_exchanges()["media_exchange"](conn.channel()).declare()
    events = EventStream()
    loop = TapLoop(
        TapSpec("media_exchange", "topic"),
        tap_scenario(TapSpec("media_exchange"), None).topology,
        backend_for(rabbit.url),
        events.put,
    )
    runner = LoopRunner()
    runner.start("tap", loop.run)
    seen: list[FlowEvent] = []

    def wait_for(predicate: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events.wait(0.1)
            seen.extend(events.drain())
            if predicate():
                return True
        return False

    def connected_count() -> int:
        return sum(1 for e in seen if isinstance(e, BrokerStatus) and e.state == "connected")

    try:
        assert wait_for(lambda: connected_count() == 1)
        rabbit.control("stop-app")
        try:
            assert wait_for(
                lambda: any(isinstance(e, BrokerStatus) and e.state == "reconnecting" for e in seen)
            )
        finally:
            rabbit.control("start-app")
        assert wait_for(lambda: connected_count() == 2), "the tap never came back"
        with Connection(rabbit.url) as conn:
            Producer(conn.channel(), serializer="json").publish(
                {"after": "outage"}, exchange="media_exchange", routing_key="video.back"
            )
        assert wait_for(lambda: any(isinstance(e, Published) and e.routing_key == "video.back" for e in seen))
    finally:
        runner.shutdown()
    runner.raise_first_error()


COUNT = 2000


def test_an_outage_counts_no_message_twice_and_settles_every_one(rabbit: RabbitBroker) -> None:
    """stop-app mid-run: acks lost with the connection come back as redeliveries and resent publishes
    may leave two copies in a queue; the ledger shows them as such and counts each message once."""
    scenario = outage_scenario(work_seconds=0.0)  # acks and publishes in flight when the broker goes
    reset_rabbit(rabbit.url, scenario.topology)
    engine = Engine(scenario, rabbit.url, speed=1.0)
    keys = ["video.upload", "user.login"]
    requests = [engine.make_request("outage_exchange", keys[n % 2], {"n": n}) for n in range(COUNT)]
    names = [q.name for q in scenario.topology.queues]

    def broker_ready() -> int:  # a connection of its own: the outage closes every open one
        with Connection(rabbit.url) as conn:
            channel = conn.channel()
            return sum(channel.queue_declare(name, passive=True).message_count for name in names)

    def drained(run: Run) -> bool:
        ledger = run.ledger
        return (
            ledger.published == len(requests)
            and ledger.all_settled
            and not any(c.in_hand for c in ledger.consumers.values())
            and broker_ready() == 0
        )

    with EngineRun(engine) as running:
        running.enqueue(requests)
        assert running.wait_for(lambda r: len(r.acks()) >= 20, 30), "nothing acked before the outage"
        rabbit.control("stop-app")
        try:
            assert running.wait_for(went_away, 30), "the status never said the broker went away"
        finally:
            rabbit.control("start-app")
        running.settle(len(requests), timeout=120)
        assert running.wait_for(drained, 120), "copies were left in the broker"
    run = running.run
    # Stopping the consumers gave nothing back: every copy the broker had was acked for good.
    assert broker_ready() == 0
    ledger = run.ledger
    assert ledger.all_settled
    assert ledger.published == len(requests) == ledger.exchanges["outage_exchange"].published
    routed = run.routed()
    per_queue = {name: sum(1 for r in requests if name in routed[r.msg]) for name in names}
    assert per_queue == {"outage_video": COUNT // 2, "outage_audit": COUNT}
    for name in names:  # each copy acked once in the counts, however often it was acked on the wire
        assert ledger.queues[name].acked == per_queue[name], name
    assert ledger.consumers["worker"].acked == COUNT * 3 // 2
    for r in requests:
        assert ledger.fate(r.msg) == dict.fromkeys(routed[r.msg], "acked"), r.msg
    # Every ack beyond one per copy is a copy shown as an ack lost (redelivered) or a duplicate.
    extra = sum(ledger.queues[name].acks_lost + ledger.queues[name].duplicates for name in names)
    assert sum(run.acks().values()) == COUNT * 3 // 2 + extra
