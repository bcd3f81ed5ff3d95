"""The routing lens on the diagram: what the canvas lights for a key typed on one exchange.

Plain Python (no Textual). Where the message goes is the router's answer (core.routing); this module
only names the boxes, wires and binding labels that answer touches, so nothing else is lit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.routing import RouteResult
from core.topology import Topology


@dataclass(frozen=True)
class Lens:
    """What a message published to `exchange` with `routing_key` would reach, in diagram terms."""

    exchange: str
    routing_key: str
    bindings: frozenset[tuple[str, str, int]]
    """(exchange, queue, index of the binding in the queue's spec) for every binding that takes it."""
    queues: frozenset[str]
    exchanges: frozenset[str]
    """The exchanges it passes through: `exchange`, then e2e destinations and alternates it uses."""
    unroutable: frozenset[str]
    """Of those, the exchanges whose bindings take nothing (it stops there or goes to the alternate)."""


def lens_for(topology: Topology, exchange: str, routing_key: str, headers: Mapping[str, Any] | None) -> Lens:
    """Route the key from `exchange` and light exactly what the route touches."""
    result = topology.binding_table.route(exchange, routing_key, headers)
    return Lens(
        exchange,
        routing_key,
        frozenset(_drawn_bindings(topology, result)),
        frozenset(result.queues),
        frozenset(result.exchanges),
        frozenset(result.unmatched),
    )


def _drawn_bindings(topology: Topology, result: RouteResult) -> set[tuple[str, str, int]]:
    """The taken bindings as the layout labels them: by their place in the queue's binding list (a
    binding listed twice is one binding, so both places light)."""
    drawn: set[tuple[str, str, int]] = set()
    for binding in result.bindings:
        spec = topology.queue(binding.destination) if binding.destination_kind == "queue" else None
        if spec is None:
            continue
        for index, b in enumerate(spec.bindings):
            if (b.exchange, b.routing_key, dict(b.arguments)) == (
                binding.source,
                binding.routing_key,
                dict(binding.arguments),
            ):
                drawn.add((binding.source, spec.name, index))
    return drawn
