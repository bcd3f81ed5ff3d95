"""Pick the backend for a broker URL: in-process (default), kombu memory://, or RabbitMQ (amqp://)."""

from __future__ import annotations

from urllib.parse import urlsplit

from core.backends.amqp import AMQP_SCHEMES, AmqpBackend
from core.backends.base import Backend, BrokerUrlError
from core.backends.inprocess import InProcessBackend
from core.backends.memory import MemoryBackend

DEFAULT_BROKER_URL = "mqscope://"


def backend_for(url: str) -> Backend:
    """The backend for `url`; raises BrokerUrlError (one line, password masked) when unusable."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise BrokerUrlError(f"broker URL is malformed: {exc}") from None
    if scheme == "mqscope":
        return InProcessBackend(url)
    if scheme == "memory":
        return MemoryBackend(url)
    if scheme in AMQP_SCHEMES:
        return AmqpBackend(url)
    raise BrokerUrlError(
        f"unsupported broker URL scheme {scheme or '(none)'!r}: "
        "use mqscope:// (the default), memory:// or amqp://host"
    )


__all__ = ["DEFAULT_BROKER_URL", "Backend", "BrokerUrlError", "backend_for"]
