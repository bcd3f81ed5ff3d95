"""The inverse of a topology edit: the changes that put the topology back as it was before it.

An editor records each edit with its inverse, worked out against the topology the edit was made to,
so undo is one more edit through the engine (checked and carried out like any other change). What a
deletion dropped (the messages a deleted queue held) is not brought back: a broker cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from core.routing import Binding
from core.topology import ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from core.topology_changes import (
    TopologyChange,
    apply_change,
    declare,
    delete,
    queue_binding,
    same_binding,
)


def inverse(topology: Topology, changes: Sequence[TopologyChange]) -> list[TopologyChange]:
    """The changes that undo `changes` made to `topology`, in the order to make them."""
    undo: list[TopologyChange] = []
    for change in changes:
        undo[:0] = _undo_one(topology, change)
        topology = apply_change(topology, change)
    return undo


def bindings_from(topology: Topology, exchange: str) -> list[TopologyChange]:
    """Declarations of every binding whose source is `exchange`, and of its own exchange-to-exchange
    bindings (deleting an exchange removes its bindings both ways, as in RabbitMQ)."""
    return [
        *(
            declare(queue_binding(exchange, q.name, b.routing_key, b.arguments))
            for q in topology.queues
            for b in q.bindings
            if b.exchange == exchange
        ),
        *(
            declare(Binding(b.exchange, e.name, "exchange", b.routing_key, dict(b.arguments)))
            for e in topology.exchanges
            for b in e.bindings
            if exchange in (b.exchange, e.name)
        ),
    ]


def _undo_one(topology: Topology, change: TopologyChange) -> list[TopologyChange]:
    entity = change.entity
    if change.op == "declare":
        match entity:
            case ExchangeSpec(name=name):
                return [] if topology.exchange(name) is not None else [delete(entity)]
            case QueueSpec(name=name):
                return [] if topology.queue(name) is not None else [delete(replace(entity, bindings=()))]
            case Binding():
                holder = (
                    topology.exchange(entity.destination)
                    if entity.destination_kind == "exchange"
                    else topology.queue(entity.destination)
                )
                present = holder is not None and any(same_binding(entity, b) for b in holder.bindings)
                return [] if present else [delete(entity)]
            case ConsumerSpec(name=name):
                old = topology.consumer(name)
                if old is None:
                    return [delete(entity)]
                return [] if old == entity else [declare(old)]
        raise TypeError(f"not a topology entity: {entity!r}")
    match entity:
        case ExchangeSpec(name=name):
            old_exchange = topology.exchange(name)
            if old_exchange is None:
                return []
            return [declare(old_exchange), *bindings_from(topology, name)]
        case QueueSpec(name=name):
            old_queue = topology.queue(name)
            if old_queue is None:
                return []
            bindings = old_queue.bindings
            rebind = [declare(queue_binding(b.exchange, name, b.routing_key, b.arguments)) for b in bindings]
            return [declare(replace(old_queue, bindings=())), *rebind]
        case Binding():
            return [declare(entity)]
        case ConsumerSpec(name=name):
            old_consumer = topology.consumer(name)
            return [] if old_consumer is None else [declare(old_consumer)]
    raise TypeError(f"not a topology entity: {entity!r}")
