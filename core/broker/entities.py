"""The broker's entities: exchanges and queues with their RabbitMQ arguments, and its errors."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from core.broker.message import Envelope
from core.broker.session import ConsumerRecord, Session

EXCHANGE_KINDS = ("direct", "fanout", "topic", "headers")
QUEUE_ARGUMENTS = (
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-message-ttl",
    "x-max-length",
    "x-single-active-consumer",
)


class BrokerError(Exception):
    """A request RabbitMQ would answer with a channel error; `code` is the AMQP reply code."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass
class ExchangeState:
    """An exchange as declared. Its bindings live in the broker's BindingTable (core.routing): the
    one place routing reads them."""

    name: str
    type: str
    durable: bool = True
    auto_delete: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def alternate(self) -> str | None:
        value = self.arguments.get("alternate-exchange")
        return str(value) if value else None


@dataclass(eq=False)
class QueueState:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    ready: deque[Envelope] = field(default_factory=deque)
    consumers: deque[ConsumerRecord] = field(default_factory=deque)
    unacked: int = 0
    next_seq: int = 0
    auto_delete: bool = False
    """Deleted when its last consumer is cancelled (once it has had one), as in RabbitMQ."""
    owner: Session | None = None
    """The connection of an exclusive queue: only it may consume; the queue dies with it."""
    prioritized: bool = False
    """Some consumer has an x-priority other than 0: dispatch looks at priorities (else it need not)."""

    @property
    def single_active(self) -> bool:
        """x-single-active-consumer: only the first consumer subscribed (still there) gets messages."""
        return self.arguments.get("x-single-active-consumer") is True

    @property
    def ttl_ms(self) -> int | None:
        value = self.arguments.get("x-message-ttl")
        return None if value is None else int(value)

    @property
    def max_length(self) -> int | None:
        value = self.arguments.get("x-max-length")
        return None if value is None else int(value)

    @property
    def dead_letter_exchange(self) -> str | None:
        value = self.arguments.get("x-dead-letter-exchange")
        return None if value is None else str(value)

    @property
    def dead_letter_routing_key(self) -> str | None:
        value = self.arguments.get("x-dead-letter-routing-key")
        return None if value is None else str(value)


@dataclass(frozen=True)
class PublishOutcome:
    """Where a published message went; `returned` when mandatory and it routed nowhere."""

    queues: tuple[str, ...]
    via_alternate: str | None = None
    returned: bool = False
