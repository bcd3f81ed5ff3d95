"""Messages AMQP cannot carry, on a real RabbitMQ: refused before sending, or reported as that
message's fate; never a connection reconnected in a loop (issue #10 item 5)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from engine_runner import EngineRun, Run, reset_rabbit
from kombu import Connection
from rabbit_support import RabbitBroker

from core.engine import Engine
from core.events import Acked, BrokerStatus, Returned
from core.publishing import PublishError, PublishRequest
from core.scenario import Scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology

pytestmark = pytest.mark.rabbitmq


def hostile_scenario(*, doomed: bool = False) -> Scenario:
    extra = (ExchangeSpec("hostile_doomed", "topic"),) if doomed else ()
    bindings = (BindingSpec("hostile_exchange", "#"),) + (
        (BindingSpec("hostile_doomed", "#"),) if doomed else ()
    )
    topology = Topology(
        exchanges=(ExchangeSpec("hostile_exchange", "topic"), *extra),
        queues=(QueueSpec("hostile_queue", bindings),),
        consumers=(ConsumerSpec("worker", ("hostile_queue",)),),
    ).validate()
    return Scenario(name="hostile", title="hostile messages", topology=topology, publishes=())


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def connected(run: Run) -> bool:
    return any(isinstance(e, BrokerStatus) and e.state == "connected" for e in run.events)


def reconnects(run: Run) -> int:
    return sum(1 for e in run.of(BrokerStatus) if e.state == "disconnected")


@pytest.mark.parametrize(
    ("exchange", "headers"),
    [
        ("hostile_exchange", {"f": float("nan")}),
        ("hostile_exchange", {"when": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)}),
        ("hostile_exchange", {"deep": nested(1000)}),
        ("hostile\nexchange", {}),
    ],
)
def test_unsafe_publish_is_refused_before_sending(
    rabbit: RabbitBroker, exchange: str, headers: dict[str, Any]
) -> None:
    scenario = hostile_scenario()
    reset_rabbit(rabbit.url, scenario.topology)
    engine = Engine(scenario, rabbit.url)
    with pytest.raises(PublishError) as refused:
        engine.make_request(exchange, "k", {"n": 1}, headers)
    assert "\n" not in str(refused.value)
    good = engine.make_request("hostile_exchange", "k", {"n": 2})
    with EngineRun(engine) as running:
        running.enqueue([good])
        run = running.settle(1, timeout=30)
    assert run.acks() == {(good.msg, "hostile_queue"): 1}
    assert reconnects(run) == 0


def test_nan_header_past_validation_is_that_messages_fate(rabbit: RabbitBroker) -> None:
    """A request built by hand, past make_request (as a future code path might): RabbitMQ closes the
    connection (INTERNAL_ERROR 541); the message is resent once after reconnecting, then given up
    as refused, the next one is delivered, and the connection is not retried in a loop."""
    scenario = hostile_scenario()
    reset_rabbit(rabbit.url, scenario.topology)
    engine = Engine(scenario, rabbit.url)
    bad = PublishRequest(engine.ids.new(), "hostile_exchange", "k", {"n": 1}, {"f": float("nan")})
    good = engine.make_request("hostile_exchange", "k", {"n": 2})
    with EngineRun(engine) as running:
        running.enqueue([bad, good])
        run = running.settle(2, timeout=60)
    assert [e.msg for e in run.of(Returned)] == [bad.msg]
    assert [(e.msg, e.queue) for e in run.of(Acked)] == [(good.msg, "hostile_queue")]
    assert reconnects(run) <= 2


def test_publish_to_an_exchange_deleted_behind_our_back_is_that_messages_fate(rabbit: RabbitBroker) -> None:
    """404 NOT_FOUND closes only the producer's channel: the message settles as refused, the next one
    is delivered on a new channel, and nothing reconnects."""
    scenario = hostile_scenario(doomed=True)
    reset_rabbit(rabbit.url, scenario.topology)
    engine = Engine(scenario, rabbit.url)
    bad = engine.make_request("hostile_doomed", "k", {"n": 1})
    good = engine.make_request("hostile_exchange", "k", {"n": 2})
    with EngineRun(engine) as running:
        assert running.wait_for(connected, 30), "never connected"
        with Connection(rabbit.url) as conn:
            conn.channel().exchange_delete("hostile_doomed")
        running.enqueue([bad, good])
        run = running.settle(2, timeout=60)
    refused = run.of(Returned)
    assert [e.msg for e in refused] == [bad.msg] and "NOT_FOUND" in refused[0].reason
    assert [(e.msg, e.queue) for e in run.of(Acked)] == [(good.msg, "hostile_queue")]
    assert reconnects(run) == 0
