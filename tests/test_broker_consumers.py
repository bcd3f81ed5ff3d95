"""Single-active-consumer, consumer priorities, dead-letter cycles and chained alternate exchanges
on mqscope://, step by step (tests/consumer_walks.py; the same walks run on RabbitMQ in
tests/integration/test_rabbitmq_consumers.py, and must give these answers there too)."""

from __future__ import annotations

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection

from broker_support import fresh_url
from consumer_walks import (
    Consumers,
    alternate_and_diamond_walk,
    consumer_priority_walk,
    dead_letter_cycle_walk,
    single_active_walk,
    single_active_with_priority_walk,
)


def test_single_active_consumer_gets_everything_and_the_next_subscriber_takes_over() -> None:
    assert single_active_walk(fresh_url()) == {
        "A": [(0, False), (1, False), (2, False)],  # B and C subscribed, yet get nothing
        "B": [(1, True), (2, True), (3, False)],  # A's channel closed: its two back, in order
        "C": [(4, False), (5, False), (2, True)],  # B cancelled holding 2 and 3; 2 requeued later
    }


def test_single_active_consumer_ignores_priorities_as_rabbitmq_3_10_does() -> None:
    assert single_active_with_priority_walk(fresh_url()) == {
        "low": [(0, False), (1, False), (2, False)],
        "high": [],
    }


def test_consumer_priorities_higher_first_until_prefetch_then_lower_equal_ones_in_turn() -> None:
    assert consumer_priority_walk(fresh_url()) == {
        "hi1": [(0, False), (2, False)],
        "hi2": [(1, False), (3, False), (6, False)],
        "low": [(4, False), (5, False)],
    }


def test_x_priority_must_be_an_integer_as_rabbitmq_insists() -> None:
    with Connection(fresh_url()) as conn:
        conn.default_channel.queue_declare(queue="q", durable=False, auto_delete=False)
        with pytest.raises(PreconditionFailed, match="x-priority"):
            Consumers(conn).add("c", "q", prefetch=1, arguments={"x-priority": "high"})


def test_dead_letter_cycle_of_expiries_is_dropped_but_one_with_a_rejection_goes_round() -> None:
    result = dead_letter_cycle_walk(fresh_url())
    assert result["watch"] == [(1, "expired", "walk_dl_a", "", ["walk_dl_a"], True)]
    assert result["rejected_twice"] == [
        (2, "expired", "walk_dl_s", "walk_dl_y", ["walk_dl_r"], True),
        (2, "rejected", "walk_dl_r", "", ["walk_dl_r"], True),
    ]
    assert set(result["left"].values()) == {0}, "the expiry-only cycle left a copy somewhere"


def test_alternate_exchanges_chain_and_loop_and_a_diamond_gives_one_copy() -> None:
    assert alternate_and_diamond_walk(fresh_url()) == [
        ("walk_c1", "a", {"walk_q1": 1}),
        ("walk_c1", "b", {"walk_q2": 1}),
        ("walk_c1", "z", {"walk_q3": 1}),
        ("walk_l1", "z", {}),
        ("walk_l2", "a", {"walk_q1": 1}),
        ("walk_top", "d.x", {"walk_qd": 1}),
    ]
