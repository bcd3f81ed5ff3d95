"""mqscope's in-process, RabbitMQ-faithful broker and its kombu transport (`mqscope://`).

Importing this package registers the URL scheme with kombu; the transport module itself loads only
when kombu first opens an `mqscope://` connection.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES

from core.broker.model import Broker, BrokerError
from core.broker.registry import SCHEME, get_broker, name_from_url, reset_brokers

TRANSPORT_ALIASES.setdefault(SCHEME, "core.broker.transport:Transport")

__all__ = ["SCHEME", "Broker", "BrokerError", "get_broker", "name_from_url", "reset_brokers"]
