"""Tap mode on every exchange type: the tap sees what was published, and takes nothing from anyone."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kombu import Connection, Exchange, Producer, Queue
from rabbit_support import RabbitBroker

from core.backends import backend_for
from core.events import BrokerStatus, EventStream, FlowEvent, Published
from core.runner import LoopRunner
from core.scenario import Scenario
from core.tap import TapLoop, TapSpec, tap_bindings, tap_scenario
from core.topology import BindingSpec, ExchangeSpec, QueueSpec, Topology

pytestmark = pytest.mark.rabbitmq

# (exchange type, the system's own binding, publishes as (routing key, headers)) for each type
CASES: dict[str, tuple[tuple[str, dict[str, Any]], list[tuple[str, dict[str, Any]]]]] = {
    "topic": (("a.*", {}), [("a.b", {}), ("x.y.z", {})]),
    "fanout": (("", {}), [("anything", {}), ("", {})]),
    "headers": (("", {"x-match": "all", "kind": "pdf"}), [("", {"kind": "pdf"}), ("", {"kind": "txt"})]),
    "direct": (("orders", {}), [("orders", {}), ("refunds", {})]),
}


def system_topology(kind: str) -> Topology:
    """The watched system as a scenario file would describe it (direct: its keys are what tap binds)."""
    (key, args), _publishes = CASES[kind]
    queues = [QueueSpec(f"tap_{kind}_q", (BindingSpec(f"tap_{kind}", key, args),))]
    if kind == "direct":  # a second queue so the tap knows of "refunds" too
        queues.append(QueueSpec(f"tap_{kind}_q2", (BindingSpec(f"tap_{kind}", "refunds"),)))
    return Topology(exchanges=(ExchangeSpec(f"tap_{kind}", kind),), queues=tuple(queues))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_tap_sees_everything_and_takes_nothing(rabbit: RabbitBroker, kind: str) -> None:
    topology = system_topology(kind)
    scenario = Scenario(name="sys", title="sys", topology=topology.validate(), publishes=())
    exchange = Exchange(f"tap_{kind}", type=kind, durable=False, auto_delete=True)
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        channel.exchange_delete(exchange.name)
        exchange(channel).declare()
        own = []
        for spec in topology.queues:
            channel.queue_delete(spec.name)
            for b in spec.bindings:
                q = Queue(
                    spec.name,
                    exchange,
                    routing_key=b.routing_key,
                    binding_arguments=dict(b.arguments) or None,
                )
                q(channel).declare()
            own.append(spec.name)
    spec = TapSpec(exchange.name)  # type from the scenario
    events = EventStream()
    loop = TapLoop(spec, tap_scenario(spec, scenario).topology, backend_for(rabbit.url), events.put)
    runner = LoopRunner()
    runner.start("tap", loop.run)
    seen: list[FlowEvent] = []

    def wait_for(predicate: Any) -> bool:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events.wait(0.1)
            seen.extend(events.drain())
            if predicate():
                return True
        return False

    try:
        assert wait_for(lambda: any(isinstance(e, BrokerStatus) and e.state == "connected" for e in seen))
        _, publishes = CASES[kind]
        with Connection(rabbit.url) as conn:
            producer = Producer(conn.channel(), serializer="json")
            for n, (key, headers) in enumerate(publishes):
                producer.publish({"n": n}, exchange=exchange.name, routing_key=key, headers=headers)
        assert wait_for(lambda: sum(isinstance(e, Published) for e in seen) == len(publishes)), seen
    finally:
        runner.shutdown()
    runner.raise_first_error()
    tapped = [(e.routing_key, e.body) for e in seen if isinstance(e, Published)]
    assert tapped == [(key, {"n": n}) for n, (key, _h) in enumerate(publishes)]
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        held = sum(channel.queue_declare(queue=q, passive=True)[1] for q in own)
        for q in own:
            channel.queue_delete(q)
    routed_by_system = {"topic": 1, "fanout": 2, "headers": 1, "direct": 2}[kind]
    assert held == routed_by_system, "the system's own queues must still hold their copies"


def test_direct_tap_without_keys_is_refused() -> None:
    spec = TapSpec.parse("orders:direct")
    assert tap_bindings(spec, tap_scenario(spec, None).topology) == []
    with pytest.raises(ValueError, match="direct exchange"):
        TapLoop(spec, tap_scenario(spec, None).topology, backend_for("amqp://127.0.0.1//"), print).run(
            lambda: True
        )
