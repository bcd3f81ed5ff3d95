"""Pausing a consumer on a real RabbitMQ: the same events and depths as on mqscope:// (see
tests/pause_scenario.py for the script), judged by what RabbitMQ itself answers where it can: the
handed-back copy is in its ready count, the paused consumer is no longer subscribed, and the copy's
TTL runs out in the queue (learned from x-death when the dead-lettered copy is delivered)."""

from __future__ import annotations

import uuid

import pytest
from engine_runner import reset_rabbit
from rabbit_support import RabbitBroker

from core.events import Notice
from pause_scenario import assert_paused_as_rabbitmq_does, pause_scenario, run_pause_scenario, story

pytestmark = pytest.mark.rabbitmq


def test_pause_hands_back_prefetched_copies_and_ttl_applies_same_as_mqscope(rabbit: RabbitBroker) -> None:
    reset_rabbit(rabbit.url, pause_scenario().topology)
    real = run_pause_scenario(rabbit.url)
    assert_paused_as_rabbitmq_does(real)
    assert not real.of(Notice)
    local = run_pause_scenario(f"mqscope://pause{uuid.uuid4().hex[:10]}")
    assert story(local) == story(real)
    reset_rabbit(rabbit.url, pause_scenario().topology)
