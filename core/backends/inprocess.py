"""The default backend: mqscope's own in-process broker (`mqscope://`), faithful to RabbitMQ.

The broker does the routing, requeueing, expiry and dead-lettering itself, so it reports each step
as it happens; the engine animates what happened instead of a prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from core.backends.base import Backend, BrokerUrlError, Emit
from core.broker import get_broker, name_from_url
from core.broker.model import Broker
from core.queue_arguments import unmodelled
from core.script_watch import APP_OWNED
from core.text import short
from core.topology import Topology


class InProcessBackend(Backend):
    """`mqscope://[NAME]`: one broker per NAME in this process, shared by all its connections."""

    name = "mqscope in-process broker"
    faithful = True
    reports_routing = True
    route_source = "broker"
    transport_options = {APP_OWNED: True}
    """mqscope's own connections: a program run by --run is watched, these are not."""

    def discard_state(self) -> None:
        self.broker.reset()

    def __init__(self, url: str) -> None:
        try:
            _port = urlsplit(url).port  # kombu parses it too, later and less politely
        except ValueError as exc:
            raise BrokerUrlError(f"broker URL is malformed: {exc}") from None
        super().__init__(url)
        self.broker: Broker = get_broker(name_from_url(url))
        self._unsubscribe: Callable[[], None] | None = None

    def display_url(self) -> str:
        return f"mqscope://{self.broker.name}"

    def unsupported(self, topology: Topology) -> str | None:
        """A queue argument the in-process broker does not model is refused, never ignored (RabbitMQ
        gets it as is on amqp://)."""
        for queue in topology.queues:
            if (key := unmodelled(queue.queue_arguments())) is not None:
                return (
                    f"queue {short(queue.name)}: mqscope:// does not model queue argument "
                    f"{short(key)} (run it on RabbitMQ with --broker amqp://...)"
                )
        return None

    def attach(self, emit: Emit, topology: Topology) -> None:
        """Forward the broker's own reports (routed, requeued, dead-lettered, expired, dropped,
        returned) into the engine's stream."""
        self.detach()
        self._unsubscribe = self.broker.subscribe(emit)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def give_back(
        self, emit: Emit, topology: Topology, message: Any, msg: str, queue: str, reason: str
    ) -> None:
        """basic.reject(requeue=True) on mqscope's own channel, which lets the broker's Requeued
        report carry `reason` (the broker reports it; nothing to emit here)."""
        message.channel.basic_reject(message.delivery_tag, requeue=True, reason=reason)

    def queue_depth(self, channel: Any, queue: str) -> tuple[int, int | None]:
        """Exact (ready, unacked), straight from the broker."""
        return self.broker.depth(queue)
