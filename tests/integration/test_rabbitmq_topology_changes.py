"""Topology changes through the engine while messages flow, on the real RabbitMQ (loopback)."""

from __future__ import annotations

import uuid

import pytest
from amqp.exceptions import NotFound
from engine_runner import reset_rabbit
from kombu import Connection
from rabbit_support import RabbitBroker

from core.engine import Engine
from topology_while_flowing import exercise, seed_without_work

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
