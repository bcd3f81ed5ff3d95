"""kombu's stock memory:// transport, used as-is so its differences from RabbitMQ can be shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kombu.transport import memory

from core.backends.base import Backend


class MemoryBackend(Backend):
    """kombu memory://: process-global, polls, and routes topics with its own regex rules."""

    name = "kombu memory://"
    faithful = False
    reports_routing = False
    route_source = "transport"
    transport_options = {"polling_interval": 0.005}

    def routed(
        self, channel: Any, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> tuple[str, ...] | None:
        """Ask the transport's own exchange lookup where the message went (what really happened)."""
        try:
            exchange_type = channel.typeof(exchange)
            table = channel.get_table(exchange)
            found = exchange_type.lookup(table, exchange, routing_key, None)
        except Exception as exc:  # kombu raises re.error & co. for keys it cannot route
            raise RuntimeError(f"memory:// could not route {routing_key!r}: {exc}") from exc
        return tuple(sorted({q for q in found if q}))


def reset_memory_transport() -> None:
    """memory:// keeps queues and bindings in class attributes: clear them between runs and tests."""
    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.state.clear()
