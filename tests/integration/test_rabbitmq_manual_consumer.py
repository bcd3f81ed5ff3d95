"""You are the consumer, on a real RabbitMQ: the consumer loop waits for the user's decision through
the thread-safe hand-over, and each decision is the AMQP method the README names."""

from __future__ import annotations

import pytest
from engine_runner import reset_rabbit

from core.engine import Engine
from manual_support import Session, manual_scenario

pytestmark = pytest.mark.rabbitmq


def test_ack_requeue_reject_and_drop_by_hand_on_rabbitmq(amqp_url: str) -> None:
    scenario = manual_scenario()
    reset_rabbit(amqp_url, scenario.topology)
    session = Session(Engine(scenario, amqp_url))
    control = session.engine.controls["you"]
    try:
        acked, requeued, rejected, dropped = (
            session.engine.publish("jobs", "job", {"n": n}) for n in range(4)
        )
        session.held(acked)
        assert control.decide(acked, "ack")
        session.held(requeued)
        assert control.decide(requeued, "requeue")  # basic.reject requeue=true: back, redelivered
        session.held(requeued, redelivered=True)
        assert control.decide(requeued, "ack")
        session.held(rejected)
        assert control.decide(rejected, "dead_letter")  # basic.reject requeue=false: to jobs.dlx
        session.held(dropped)
        assert control.decide(dropped, "drop")  # basic.ack unprocessed: never dead-lettered
        ledger = session.ledger
        session.until(lambda: ledger.all_settled and ledger.queues["dead"].acked == 1, "all settled")
        assert ledger.fate(acked) == ledger.fate(requeued) == {"work": "acked"}
        assert ledger.fate(rejected) == {"work": "dead-lettered (rejected)"}
        assert ledger.fate(dropped) == {"work": "dropped by consumer"}
        assert ledger.queues["dead"].acked == 1  # the rejected one only
    finally:
        session.close()
        reset_rabbit(amqp_url, scenario.topology)
