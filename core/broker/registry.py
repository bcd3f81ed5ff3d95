"""Named in-process brokers: `mqscope://NAME` connects to broker NAME (default `localhost`).

Every connection to the same name in this process shares one Broker, as clients of one RabbitMQ do.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from core.broker.model import Broker

SCHEME = "mqscope"
DEFAULT_NAME = "localhost"

_brokers: dict[str, Broker] = {}
_lock = threading.Lock()


def broker_name(hostname: str | None) -> str:
    """Broker names are host names: case-insensitive, `localhost` when none is given."""
    return (hostname or DEFAULT_NAME).lower()


def name_from_url(url: str) -> str:
    """The broker name in a `mqscope://NAME/` URL."""
    return broker_name(urlsplit(url).hostname)


def get_broker(name: str | None = None) -> Broker:
    """The process-wide broker called `name`, created on first use."""
    key = broker_name(name)
    with _lock:
        broker = _brokers.get(key)
        if broker is None:
            broker = _brokers[key] = Broker(key)
        return broker


def reset_brokers() -> None:
    """Empty every in-process broker (exchanges, queues, messages): tests and fresh runs."""
    with _lock:
        brokers = list(_brokers.values())
    for broker in brokers:
        broker.reset()
