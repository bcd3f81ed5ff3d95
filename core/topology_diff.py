"""The difference between two topologies as the changes that turn one into the other.

Discovery reads a live vhost every few seconds; what changed since the last read reaches every view
as ordinary TopologyChanged events, so the ledger and the diagram follow a real broker exactly as
they follow an edit. The changes are the ones `apply_change` folds: deletions first (consumers,
bindings, queues, then exchanges, so nothing is deleted while a later deletion still needs it), then
the new topology's declarations (core.topology_changes.declarations) that change anything. An entity
whose fields changed (a queue's arguments, an exchange's type) is deleted and declared again, as
RabbitMQ itself would require; its bindings are declared again with it.
"""

from __future__ import annotations

from dataclasses import replace

from core.routing import Binding
from core.topology import Topology
from core.topology_changes import (
    TopologyChange,
    apply_change,
    declarations,
    delete,
    exchange_binding,
    queue_binding,
)


def topology_diff(old: Topology, new: Topology) -> list[TopologyChange]:
    """The changes that make `old` into `new` (in the order to fold them); [] when they agree."""
    if old == new:  # the usual refresh: nothing changed, in the same order
        return []
    deletions: list[TopologyChange] = []
    for consumer in old.consumers:
        if new.consumer(consumer.name) != consumer:
            deletions.append(delete(consumer))
    wanted = {_key(b) for b in _bindings(new)}
    deletions.extend(delete(b) for b in _bindings(old) if _key(b) not in wanted)
    for queue in old.queues:
        now = new.queue(queue.name)
        if now is None or replace(now, bindings=()) != replace(queue, bindings=()):
            deletions.append(delete(replace(queue, bindings=())))
    for exchange in old.exchanges:
        now_ex = new.exchange(exchange.name)
        if now_ex is None or replace(now_ex, bindings=()) != replace(exchange, bindings=()):
            deletions.append(delete(replace(exchange, bindings=())))
    changes: list[TopologyChange] = []
    current = old
    for change in deletions:
        after = apply_change(current, change)
        if after is not current:
            changes.append(change)
            current = after
    for change in declarations(new):
        after = apply_change(current, change)
        if after is not current:
            changes.append(change)
            current = after
    return changes


def _bindings(topology: Topology) -> list[Binding]:
    """Every binding of the topology, queue-bound and exchange-to-exchange."""
    return [
        *(
            queue_binding(b.exchange, q.name, b.routing_key, b.arguments)
            for q in topology.queues
            for b in q.bindings
        ),
        *(
            exchange_binding(b.exchange, e.name, b.routing_key, b.arguments)
            for e in topology.exchanges
            for b in e.bindings
        ),
    ]


def _key(binding: Binding) -> tuple[str, str, str, str, str]:
    """A binding as a hashable key (its arguments as sorted text: header values may be unhashable)."""
    arguments = repr(sorted((str(k), repr(v)) for k, v in binding.arguments.items()))
    return (binding.source, binding.destination, binding.destination_kind, binding.routing_key, arguments)
