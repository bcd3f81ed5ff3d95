"""Topology changes through the engine while messages flow, on the real RabbitMQ (loopback)."""

from __future__ import annotations

import uuid

import pytest
from amqp.exceptions import NotFound
from engine_runner import reset_rabbit
from kombu import Connection
from rabbit_support import RabbitBroker

from core.engine import Engine
from core.events import QueueDepth, TopologyChanged
from core.runner import LoopRunner
from topology_while_flowing import Watch, exercise, seed_without_work

pytestmark = pytest.mark.rabbitmq


def test_changes_while_messages_flow_on_rabbitmq(rabbit: RabbitBroker) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}."
    scenario = seed_without_work(prefix)
    reset_rabbit(rabbit.url, scenario.topology)
    try:
        exercise(Engine(scenario, rabbit.url), prefix)
        with Connection(rabbit.url) as conn, pytest.raises(NotFound):
            conn.channel().queue_declare(queue=prefix + "extra_queue", passive=True)
    finally:
        reset_rabbit(rabbit.url, scenario.topology)


def test_a_queue_deleted_behind_the_engines_back_leaves_its_topology(rabbit: RabbitBroker) -> None:
    """Deleted by someone else (or by x-expires) on RabbitMQ: the depth poll's passive declare gets
    404, and the engine folds the deletion in as a topology event (origin "broker")."""
    prefix = f"t{uuid.uuid4().hex[:6]}."
    scenario = seed_without_work(prefix)
    reset_rabbit(rabbit.url, scenario.topology)
    engine = Engine(scenario, rabbit.url)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    watch = Watch(engine, runner)
    audit = prefix + "audit_queue"
    try:
        watch.until(lambda e: isinstance(e, QueueDepth) and e.queue == audit, "a depth poll")
        with Connection(rabbit.url) as conn:
            conn.channel().queue_delete(queue=audit)
        gone = watch.until(
            lambda e: isinstance(e, TopologyChanged) and e.change.op == "delete" and e.change.name == audit,
            "the deletion as a topology event",
        )
        assert isinstance(gone, TopologyChanged) and gone.origin == "broker"
        assert engine.topology.queue(audit) is None and watch.ledger.topology.queue(audit) is None
    finally:
        runner.shutdown()
        reset_rabbit(rabbit.url, scenario.topology)
