"""The broker's entities: exchanges and queues with their RabbitMQ arguments, and its errors."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.broker.message import Envelope, body_size
from core.broker.session import ConsumerRecord, Session
from core.queue_arguments import MODELLED, limits_text

EXCHANGE_KINDS = ("direct", "fanout", "topic", "headers")
QUEUE_ARGUMENTS = MODELLED


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
    """A queue. Its arguments never change once declared (a redeclare must match), so what they
    mean is worked out once per queue (cached), not on every publish."""

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
    expires_at: float | None = None
    """x-expires: the monotonic time it is deleted if still unused (no consumer, get or redeclare)."""
    prioritized: bool = False
    """Some consumer has an x-priority other than 0: dispatch looks at priorities (else it need not)."""

    @property
    def single_active(self) -> bool:
        """x-single-active-consumer: only the first consumer subscribed (still there) gets messages."""
        return self.arguments.get("x-single-active-consumer") is True

    def _int(self, key: str) -> int | None:
        value = self.arguments.get(key)
        return None if value is None else int(value)

    @cached_property
    def quorum(self) -> bool:
        return self.arguments.get("x-queue-type") == "quorum"

    @cached_property
    def overflow(self) -> str:
        """x-overflow as RabbitMQ 3.10 applies it: a quorum queue treats reject-publish-dlx as
        drop-head (it logs a warning and declares the queue; measured)."""
        mode = str(self.arguments.get("x-overflow") or "drop-head")
        return "drop-head" if self.quorum and mode == "reject-publish-dlx" else mode

    @cached_property
    def max_length_bytes(self) -> int | None:
        return self._int("x-max-length-bytes")

    @cached_property
    def max_priority(self) -> int | None:
        return self._int("x-max-priority")

    @cached_property
    def expires_ms(self) -> int | None:
        return self._int("x-expires")

    @cached_property
    def delivery_limit(self) -> int | None:
        return self._int("x-delivery-limit") if self.quorum else None

    def limits(self) -> str:
        """`x-max-length 2, x-max-length-bytes 10`: the limits this queue has, for reasons."""
        return limits_text(self.arguments)

    def ready_bytes(self) -> int:
        """Body bytes of the ready copies (what x-max-length-bytes counts, as RabbitMQ)."""
        return sum(body_size(e.body) for e in self.ready)

    def rank(self, envelope: Envelope) -> tuple[int, int]:
        """Sort key of a ready copy: higher (capped) priority first, then queue order."""
        return (-self.priority_of(envelope), envelope.seq)

    def priority_of(self, envelope: Envelope) -> int:
        """The copy's priority in this queue: 0 without x-max-priority, capped at the maximum."""
        top = self.max_priority
        if not top:
            return 0
        raw = envelope.properties.get("priority")
        value = raw if isinstance(raw, int) and not isinstance(raw, bool) else 0
        return max(0, min(value, top))

    def over_limit(self, extra_count: int = 0, extra_bytes: int = 0) -> bool:
        """More ready copies (or body bytes) than x-max-length (x-max-length-bytes) allow."""
        limit, byte_limit = self.max_length, self.max_length_bytes
        if limit is not None and len(self.ready) + extra_count > limit:
            return True
        return byte_limit is not None and self.ready_bytes() + extra_bytes > byte_limit

    def refuses(self, envelope: Envelope) -> bool:
        """x-overflow reject-publish(-dlx): the newest is refused when it would not fit (classic);
        a quorum queue refuses once it is already over its limit (measured on RabbitMQ 3.10)."""
        if self.overflow == "drop-head":
            return False
        if self.quorum:
            return self.over_limit()
        return self.over_limit(1, body_size(envelope.body))

    @cached_property
    def ttl_ms(self) -> int | None:
        value = self.arguments.get("x-message-ttl")
        return None if value is None else int(value)

    @cached_property
    def max_length(self) -> int | None:
        value = self.arguments.get("x-max-length")
        return None if value is None else int(value)

    @cached_property
    def dead_letter_exchange(self) -> str | None:
        value = self.arguments.get("x-dead-letter-exchange")
        return None if value is None else str(value)

    @cached_property
    def dead_letter_routing_key(self) -> str | None:
        value = self.arguments.get("x-dead-letter-routing-key")
        return None if value is None else str(value)


@dataclass(frozen=True)
class PublishOutcome:
    """Where a published message went; `returned` when mandatory and it routed nowhere."""

    queues: tuple[str, ...]
    via_alternate: str | None = None
    returned: bool = False
    refused: tuple[str, ...] = ()
    """Queues whose x-overflow reject-publish(-dlx) refused it: under confirms, a basic.nack."""
