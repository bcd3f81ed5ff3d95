"""The routing lens on the diagram: which bindings and queues a typed key would reach.

Plain Python (no Textual). The diagram's counts are not here: the canvas reads a core.ledger.Ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.routing import binding_matches, route
from core.topology import Topology


@dataclass(frozen=True)
class Lens:
    """The routing lens on the diagram: which bindings and queues a typed key would reach."""

    routing_key: str
    bindings: frozenset[tuple[str, str, int]]
    """(exchange, queue, binding index) that match."""
    queues: frozenset[str]
    unroutable: frozenset[str]
    """Exchanges the key would be unroutable on."""
    exchanges: frozenset[str]
    """Exchanges the lens looks at (publish targets, not dead-letter-only exchanges)."""


def lens_for(topology: Topology, routing_key: str, headers: Mapping[str, Any] | None) -> Lens:
    """Evaluate the bindings of the exchanges a producer publishes to, as RabbitMQ would route.

    Dead-letter exchanges are not publish targets; an alternate exchange counts only when its
    exchange routed nowhere (that is when RabbitMQ uses it).
    """
    dlx = {q.dead_letter_exchange for q in topology.queues if q.dead_letter_exchange}
    alternates = {e.alternate_exchange for e in topology.exchanges if e.alternate_exchange}
    looked = [e for e in topology.exchanges if e.name not in dlx | alternates] or list(topology.exchanges)
    bindings: set[tuple[str, str, int]] = set()
    queues: set[str] = set()
    unroutable: set[str] = set()
    shown = {e.name for e in looked}
    for ex in looked:
        result = route(topology, ex.name, routing_key, headers)
        target = topology.exchange(result.via_alternate) if result.via_alternate else ex
        if ex.alternate_exchange:
            shown.add(ex.alternate_exchange)
        for q in topology.queues:
            for index, b in enumerate(q.bindings):
                if (
                    target is not None
                    and b.exchange == target.name
                    and binding_matches(target.type, b.routing_key, b.arguments, routing_key, headers)
                ):
                    bindings.add((target.name, q.name, index))
        queues.update(result.queues)
        if not result.queues:
            unroutable.add(ex.name)
    return Lens(routing_key, frozenset(bindings), frozenset(queues), frozenset(unroutable), frozenset(shown))
