"""Undo: the inverse of every kind of edit puts the topology back as it was (bindings in any order)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.scenario import load_scenario
from core.topology import ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from core.topology_changes import (
    TopologyChange,
    apply_change,
    change_problem,
    declare,
    delete,
    exchange_binding,
    queue_binding,
)
from core.topology_undo import inverse


def normal(topology: Topology) -> tuple[object, ...]:
    """The topology with each queue's bindings as a set: undo may bind them again in another order."""
    queues = sorted(
        (
            (
                q.name,
                replace(q, bindings=()),
                sorted((b.exchange, b.routing_key, str(b.arguments)) for b in q.bindings),
            )
            for q in topology.queues
        ),
        key=lambda entry: entry[0],
    )
    return (
        sorted(topology.exchanges, key=lambda e: e.name),
        queues,
        sorted(topology.consumers, key=lambda c: c.name),
    )


SEED = load_scenario("seed").topology
DEAD = load_scenario("dead_letter").topology
WORKER = SEED.consumer("worker")
VIDEO = SEED.queue("video_queue")
assert WORKER is not None and VIDEO is not None

EDITS: dict[str, tuple[Topology, list[TopologyChange]]] = {
    "add exchange": (SEED, [declare(ExchangeSpec("extra", "fanout"))]),
    "add queue and bind it": (
        SEED,
        [declare(QueueSpec("q")), declare(queue_binding("media_exchange", "q", "a.*"))],
    ),
    "unbind": (SEED, [delete(queue_binding("media_exchange", "audit_queue", "#"))]),
    "delete a queue with bindings": (
        SEED,
        [delete(WORKER), delete(VIDEO)],
    ),
    "delete an exchange with bindings": (SEED, [delete(ExchangeSpec("media_exchange"))]),
    "change prefetch": (SEED, [declare(replace(WORKER, prefetch=7))]),
    "add a consumer": (SEED, [declare(ConsumerSpec("w2", ("video_queue",)))]),
    "change a consumed queue's arguments": (
        SEED,
        [
            delete(WORKER),
            delete(VIDEO),
            declare(replace(VIDEO, bindings=(), message_ttl=3.0)),
            declare(queue_binding("media_exchange", "video_queue", "video.#")),
            declare(WORKER),
        ],
    ),
    "change an exchange's type": (
        DEAD,
        [
            delete(ExchangeSpec("orders", "direct")),
            declare(ExchangeSpec("orders", "topic")),
            *[
                declare(queue_binding("orders", q.name, b.routing_key))
                for q in DEAD.queues
                for b in q.bindings
                if b.exchange == "orders"
            ],
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_the_inverse_of_an_edit_restores_the_topology_and_core_accepts_it(name: str) -> None:
    before, changes = EDITS[name]
    after = before
    for change in changes:
        assert change_problem(after, change) is None, change
        after = apply_change(after, change)
    assert normal(after) != normal(before)
    undo = inverse(before, changes)
    restored = after
    for change in undo:
        assert change_problem(restored, change) is None, change  # undo is an edit core accepts
        restored = apply_change(restored, change)
    assert normal(restored) == normal(before)
    redo = inverse(after, undo)  # the inverse of the inverse makes the edit again
    again = restored
    for change in redo:
        again = apply_change(again, change)
    assert normal(again) == normal(after)


def test_an_edit_that_changes_nothing_has_nothing_to_undo() -> None:
    assert inverse(SEED, [declare(WORKER), declare(SEED.exchanges[0])]) == []


def test_deleting_an_exchange_with_exchange_to_exchange_bindings_both_ways_undoes_them() -> None:
    into = exchange_binding("orders", "orders.dlx", "order.#")
    middle = ExchangeSpec("middle", "topic")
    changes = [declare(middle), declare(exchange_binding("middle", "orders", "a.#")), declare(into)]
    topology = DEAD
    for change in changes:
        assert change_problem(topology, change) is None
        topology = apply_change(topology, change)
    orders, dlx = topology.exchange("orders"), topology.exchange("orders.dlx")
    assert orders is not None and orders.bindings and dlx is not None and dlx.bindings
    gone = apply_change(topology, delete(orders))
    assert not gone.exchange("orders.dlx").bindings  # type: ignore[union-attr]
    back = gone
    for change in inverse(topology, [delete(orders)]):
        back = apply_change(back, change)
    assert normal(back) == normal(topology)
    # and undoing the declaration of an exchange-to-exchange binding deletes it
    (undo,) = inverse(DEAD, [declare(into)])
    assert undo == delete(into)
