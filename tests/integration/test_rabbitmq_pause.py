"""Pausing a consumer on a real RabbitMQ: the same events and depths as on mqscope:// (see
tests/pause_scenario.py for the script), judged by what RabbitMQ itself answers where it can: the
handed-back copy is in its ready count, the paused consumer is no longer subscribed, and the copy's
TTL runs out in the queue (learned from x-death when the dead-lettered copy is delivered). Below the
engine, basic.cancel is held to RabbitMQ's rule on both: what was already sent stays the client's."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from engine_runner import reset_rabbit
from kombu import Connection
from rabbit_support import RabbitBroker

from broker_support import WAIT, consuming, declare, depth, drain_until, publish
from core.events import Notice
from pause_scenario import assert_paused_as_rabbitmq_does, pause_scenario, run_pause_scenario, story

pytestmark = pytest.mark.rabbitmq


def fresh_inprocess() -> str:
    return f"mqscope://pause{uuid.uuid4().hex[:10]}"


def test_pause_hands_back_prefetched_copies_and_ttl_applies_same_as_mqscope(rabbit: RabbitBroker) -> None:
    reset_rabbit(rabbit.url, pause_scenario().topology)
    real = run_pause_scenario(rabbit.url)
    assert_paused_as_rabbitmq_does(real)
    assert not real.of(Notice)
    local = run_pause_scenario(fresh_inprocess())
    assert story(local) == story(real)
    reset_rabbit(rabbit.url, pause_scenario().topology)


def _cancel_with_one_unread(url: str, queue: str) -> list[tuple[Any, int, int]]:
    """Read one of two prefetched copies, cancel, then settle both: what the client saw, and the
    broker's ready count (passive declare) at each step."""
    steps: list[tuple[Any, int, int]] = []
    with Connection(url) as conn:
        declare(conn, f"{queue}_ex", "direct", [(queue, "job")])
        for n in range(3):
            publish(conn, f"{queue}_ex", "job", {"n": n})
        got: list[tuple[Any, Any]] = []
        with consuming(conn, [queue], lambda body, message: got.append((body, message)), prefetch=2) as c:
            drain_until(conn, lambda: len(got) == 1)
            c.cancel()
            steps.append(([b for b, _m in got], depth(conn, queue), len(got)))
            got[0][1].ack()
            got[1][1].reject(requeue=True)
            # The reject went on the consumer's channel, the count is asked on another: RabbitMQ
            # orders the two only within a channel, so settle on the count (with a deadline).
            deadline = time.monotonic() + WAIT
            while (ready := depth(conn, queue)) != 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            steps.append(([b for b, _m in got], ready, len(got)))
        conn.default_channel.queue_delete(queue)
        conn.default_channel.exchange_delete(f"{queue}_ex")
    return steps


def test_basic_cancel_hands_unread_copies_to_the_callback_on_both(rabbit: RabbitBroker) -> None:
    queue = f"cancel_{uuid.uuid4().hex[:8]}"
    real = _cancel_with_one_unread(rabbit.url, queue)
    local = _cancel_with_one_unread(fresh_inprocess(), queue)
    assert real == local == [([{"n": 0}, {"n": 1}], 1, 2), ([{"n": 0}, {"n": 1}], 2, 2)]
