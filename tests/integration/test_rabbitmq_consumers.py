"""Single-active-consumer, consumer priorities, dead-letter cycles and chained alternates: the same
walks (tests/consumer_walks.py) on mqscope:// and on RabbitMQ give the same per-consumer deliveries
(order and redelivered flags), the same x-death and the same queues reached."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rabbit_support import RabbitBroker

from consumer_walks import (
    Graph,
    alternate_and_diamond_walk,
    consumer_priority_walk,
    dead_letter_cycle_walk,
    graph_walk,
    priority_spread_walk,
    single_active_walk,
    single_active_with_priority_walk,
)

pytestmark = pytest.mark.rabbitmq


def fresh_inprocess() -> str:
    return f"mqscope://walk{uuid.uuid4().hex[:10]}"


def test_single_active_consumer_same_on_both(rabbit: RabbitBroker) -> None:
    # Up to the takeover only: RabbitMQ 3.10/3.11 classic queues stall after it (see the walk).
    real = single_active_walk(rabbit.url, past_takeover=False)
    assert single_active_walk(fresh_inprocess(), past_takeover=False) == real
    assert real["C"] == [] and real["B"] == [(1, True), (2, True)]


def test_single_active_consumer_with_priorities_same_on_both(rabbit: RabbitBroker) -> None:
    real = single_active_with_priority_walk(rabbit.url)
    assert single_active_with_priority_walk(fresh_inprocess()) == real
    assert real["high"] == []


def test_consumer_priorities_same_on_both(rabbit: RabbitBroker) -> None:
    assert consumer_priority_walk(fresh_inprocess()) == consumer_priority_walk(rabbit.url)


def test_dead_letter_cycles_same_on_both(rabbit: RabbitBroker) -> None:
    assert dead_letter_cycle_walk(fresh_inprocess()) == dead_letter_cycle_walk(rabbit.url)


def test_alternate_chains_and_exchange_diamond_same_on_both(rabbit: RabbitBroker) -> None:
    assert alternate_and_diamond_walk(fresh_inprocess()) == alternate_and_diamond_walk(rabbit.url)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    consumers=st.lists(st.tuples(st.sampled_from([0, 1, 5]), st.integers(1, 3)), min_size=1, max_size=4),
    count=st.integers(1, 9),
)
def test_generated_consumer_priorities_same_on_both(
    rabbit: RabbitBroker, consumers: list[tuple[int, int]], count: int
) -> None:
    real = priority_spread_walk(rabbit.url, consumers, count)
    assert priority_spread_walk(fresh_inprocess(), consumers, count) == real


KEYS = ["a", "a.b", "x.b", "b", ""]


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    count = draw(st.integers(2, 4))
    alternates = st.one_of(st.none(), st.integers(0, count - 1).map(str))
    kinds = tuple(
        (draw(st.sampled_from(["direct", "fanout", "topic"])), draw(alternates)) for _ in range(count)
    )
    link = st.tuples(
        st.integers(0, count - 1), st.integers(0, count - 1), st.sampled_from(["a", "#", "*.b", "a.b"])
    )
    links = tuple((s, d, k) for s, d, k in draw(st.lists(link, max_size=5, unique=True)) if s != d)
    bind = st.tuples(st.integers(0, count - 1), st.integers(0, 2), st.sampled_from(["a", "#", "*.b", "b"]))
    return kinds, links, tuple(draw(st.lists(bind, min_size=1, max_size=5, unique=True)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=graphs())
def test_generated_exchange_graphs_route_the_same_on_both(rabbit: RabbitBroker, graph: Graph) -> None:
    """Exchange bindings, alternates and loops drawn at random: each key reaches the same queues,
    each once, on both."""
    real = graph_walk(rabbit.url, graph, KEYS)
    assert graph_walk(fresh_inprocess(), graph, KEYS) == real
    assert all(set(counts.values()) <= {1} for counts in real)
