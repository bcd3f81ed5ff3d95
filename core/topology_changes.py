"""Changes to a running topology: declare or delete an exchange, queue, binding or consumer.

A change is a value: it is checked against the topology it will change (one-line reasons, the same
rules as scenario files), applied by the broker, and reported as a `TopologyChanged` event in the
same stream as the messages, so every view folds it in order. `apply_change` is the pure fold.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from core.routing import Binding
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology

Operation = Literal["declare", "delete"]
EntityKind = Literal["exchange", "queue", "binding", "consumer"]


def binding_spec(binding: Binding) -> BindingSpec:
    """The queue-side form the Topology keeps (a queue lists its own bindings)."""
    return BindingSpec(binding.source, binding.routing_key, dict(binding.arguments))


def exchange_binding(
    source: str, destination: str, routing_key: str = "", arguments: Mapping[str, Any] | None = None
) -> Binding:
    """A binding from exchange `source` to exchange `destination` (exchange-to-exchange)."""
    return Binding(source, destination, "exchange", routing_key, dict(arguments or {}))


def same_binding(binding: Binding, spec: BindingSpec) -> bool:
    return (
        spec.exchange == binding.source
        and spec.routing_key == binding.routing_key
        and dict(spec.arguments) == dict(binding.arguments)
    )


def queue_binding(
    source: str, queue: str, routing_key: str = "", arguments: Mapping[str, Any] | None = None
) -> Binding:
    """A binding from exchange `source` to a queue (the kind scenarios hold)."""
    return Binding(source, queue, "queue", routing_key, dict(arguments or {}))


Entity = ExchangeSpec | QueueSpec | Binding | ConsumerSpec


@dataclass(frozen=True)
class TopologyChange:
    """One declaration or deletion; `entity` is the spec declared, or the one deleted."""

    op: Operation
    entity: Entity

    @property
    def kind(self) -> EntityKind:
        match self.entity:
            case ExchangeSpec():
                return "exchange"
            case QueueSpec():
                return "queue"
            case Binding():
                return "binding"
            case ConsumerSpec():
                return "consumer"
        raise TypeError(f"not a topology entity: {self.entity!r}")

    @property
    def name(self) -> str:
        """What a one-line message calls the entity: its name, or `source -> destination (key)`."""
        if isinstance(self.entity, Binding):
            b = self.entity
            return f"{b.source} -> {b.destination} ({b.routing_key!r})"
        return self.entity.name

    def fields(self) -> dict[str, Any]:
        """The entity's fields as the JSON contract names them (RabbitMQ's names where it has them)."""
        match self.entity:
            case ExchangeSpec() as ex:
                arguments = {"alternate-exchange": ex.alternate_exchange} if ex.alternate_exchange else {}
                return {"name": ex.name, "type": ex.type, "durable": ex.durable, "arguments": arguments}
            case QueueSpec() as q:
                return {"name": q.name, "durable": q.durable, "arguments": q.queue_arguments()}
            case Binding() as b:
                return {
                    "source": b.source,
                    "destination": b.destination,
                    "destination_type": b.destination_kind,
                    "routing_key": b.routing_key,
                    "arguments": dict(b.arguments),
                }
            case ConsumerSpec() as c:
                return {
                    "name": c.name,
                    "queues": list(c.queues),
                    "prefetch": c.prefetch,
                    "work_seconds": c.work_seconds,
                    "on_failure": c.on_failure,
                    "arguments": dict(c.arguments),
                    **({"manual": True} if c.manual else {}),  # only when set: older streams read alike
                    **({"foreign": True, "ack": "auto" if c.auto_ack else "manual"} if c.foreign else {}),
                }
        raise TypeError(f"not a topology entity: {self.entity!r}")


def declare(entity: Entity) -> TopologyChange:
    return TopologyChange("declare", entity)


def delete(entity: Entity) -> TopologyChange:
    return TopologyChange("delete", entity)


def declarations(topology: Topology) -> list[TopologyChange]:
    """The topology as the changes that build it from nothing, in an order a broker accepts."""
    out: list[TopologyChange] = [declare(replace(ex, bindings=())) for ex in topology.exchanges]
    for q in topology.queues:
        out.append(declare(replace(q, bindings=())))
    for q in topology.queues:
        out.extend(declare(queue_binding(b.exchange, q.name, b.routing_key, b.arguments)) for b in q.bindings)
    for ex in topology.exchanges:
        out.extend(
            declare(exchange_binding(b.exchange, ex.name, b.routing_key, b.arguments)) for b in ex.bindings
        )
    out.extend(declare(c) for c in topology.consumers)
    return out


def change_problem(topology: Topology, change: TopologyChange) -> str | None:
    """Why `change` cannot be made to `topology` (one line, as a scenario file error), or None."""
    entity = change.entity
    where = f"{change.kind} {change.name!r}" if change.kind != "binding" else f"binding {change.name}"
    if change.op == "declare":
        if isinstance(entity, ExchangeSpec):
            existing = topology.exchange(entity.name)
            if existing is not None and existing.type != entity.type:
                return f"{where}: exists as a {existing.type} exchange; delete it first to change its type"
        if isinstance(entity, QueueSpec):
            existing_q = topology.queue(entity.name)
            if existing_q is not None and existing_q.queue_arguments() != entity.queue_arguments():
                return f"{where}: exists with other arguments; delete it first to change them"
        if isinstance(entity, Binding):
            if topology.exchange(entity.source) is None:
                return f"{where}: unknown exchange {entity.source!r}"
            if entity.destination_kind == "exchange":
                if topology.exchange(entity.destination) is None:
                    return f"{where}: unknown exchange {entity.destination!r}"
            elif topology.queue(entity.destination) is None:
                return f"{where}: unknown queue {entity.destination!r}"
        problems = apply_change(topology, change).problems()
        return f"{problems[0]}" if problems else None
    if isinstance(entity, Binding):
        holder: QueueSpec | ExchangeSpec | None = (
            topology.exchange(entity.destination)
            if entity.destination_kind == "exchange"
            else topology.queue(entity.destination)
        )
        if holder is None or not any(same_binding(entity, b) for b in holder.bindings):
            return f"{where}: no such binding"
        return None
    if not _exists(topology, change):
        return f"{where}: does not exist"
    if isinstance(entity, ExchangeSpec):
        users = [f"queue {q.name!r}" for q in topology.queues if q.dead_letter_exchange == entity.name]
        users += [f"exchange {e.name!r}" for e in topology.exchanges if e.alternate_exchange == entity.name]
        if users:
            role = "dead-letter or alternate exchange"
            return f"{where}: still the {role} of {users[0]}; change that first"
    if isinstance(entity, QueueSpec):
        users = [c.name for c in topology.consumers if entity.name in c.queues]
        if users:
            return f"{where}: consumer {users[0]!r} still consumes it; delete or change that consumer first"
    return None


def _exists(topology: Topology, change: TopologyChange) -> bool:
    match change.entity:
        case ExchangeSpec(name=name):
            return topology.exchange(name) is not None
        case QueueSpec(name=name):
            return topology.queue(name) is not None
        case ConsumerSpec(name=name):
            return topology.consumer(name) is not None
    return True


def apply_change(topology: Topology, change: TopologyChange) -> Topology:
    """The topology after `change`, as RabbitMQ would have it (no validation: see change_problem).

    Deleting an exchange removes its bindings, deleting a queue removes its bindings (as RabbitMQ
    does); declaring what exists with the same fields changes nothing; a consumer's redeclaration
    replaces it (its prefetch or work time changed).
    """
    entity = change.entity
    exchanges, queues, consumers = topology.exchanges, topology.queues, topology.consumers
    if isinstance(entity, ExchangeSpec):
        if change.op == "declare":
            if topology.exchange(entity.name) is None:
                exchanges = (*exchanges, replace(entity, bindings=()))
        else:  # its bindings both ways go with it, as in RabbitMQ
            exchanges = tuple(
                replace(e, bindings=tuple(b for b in e.bindings if b.exchange != entity.name))
                for e in exchanges
                if e.name != entity.name
            )
            queues = tuple(
                replace(q, bindings=tuple(b for b in q.bindings if b.exchange != entity.name)) for q in queues
            )
    elif isinstance(entity, QueueSpec):
        if change.op == "declare":
            if topology.queue(entity.name) is None:
                queues = (*queues, replace(entity, bindings=()))
        else:
            queues = tuple(q for q in queues if q.name != entity.name)
    elif isinstance(entity, Binding) and entity.destination_kind == "exchange":
        exchanges = tuple(
            _rebind(e, entity, change.op) if e.name == entity.destination else e for e in exchanges
        )
    elif isinstance(entity, Binding):
        queues = tuple(_rebind(q, entity, change.op) if q.name == entity.destination else q for q in queues)
    else:
        others = tuple(c for c in consumers if c.name != entity.name)
        if change.op == "declare":
            kept = [c.name for c in consumers]
            position = kept.index(entity.name) if entity.name in kept else len(others)
            consumers = (*others[:position], entity, *others[position:])
        else:
            consumers = others
    if (exchanges, queues, consumers) == (topology.exchanges, topology.queues, topology.consumers):
        return topology
    return Topology(exchanges=exchanges, queues=queues, consumers=consumers)


Holder = TypeVar("Holder", QueueSpec, ExchangeSpec)


def _rebind(holder: Holder, binding: Binding, op: Operation) -> Holder:
    """A queue or exchange with `binding` (to it) added or removed."""
    present = any(same_binding(binding, b) for b in holder.bindings)
    if op == "declare":
        return holder if present else replace(holder, bindings=(*holder.bindings, binding_spec(binding)))
    return replace(holder, bindings=tuple(b for b in holder.bindings if not same_binding(binding, b)))


class LiveTopology:
    """The topology as it is now on the broker: replaced whole on each change, so a reader on any
    thread always sees one consistent snapshot (`current`), never a half-made change."""

    def __init__(self, topology: Topology) -> None:
        self._current = topology
        self._lock = threading.Lock()

    @property
    def current(self) -> Topology:
        return self._current

    def apply(self, change: TopologyChange) -> Topology:
        """Fold `change` in. The producer thread carries the app's changes out; under --run the
        program's threads report the changes they made too, so folds take turns."""
        with self._lock:
            self._current = apply_change(self._current, change)
            return self._current
