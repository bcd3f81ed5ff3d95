"""The ledger's parts: per-copy records of each message, and the per-node counts and broker facts.

Plain data, written only by core.ledger.Ledger (one fold); every view reads them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.events import FlowEvent

READY, HELD, BETWEEN, CLOSED = "ready", "held", "between", "closed"
"""A copy's status: waiting in its queue, unacked in a consumer's hands, let go by a consumer whose
reject is not yet resolved (requeue or dead letter follows), or done for good (see `outcome`)."""

EXCHANGE = "-"
"""The copy key for what happened at the exchange itself (unroutable, returned): not a queue copy."""


class Copy:
    """One copy of a message in one queue: where it is now, who holds it, how it ended, its story."""

    __slots__ = ("again", "extra", "holder", "origin", "outcome", "queue", "status", "steps")

    def __init__(self, queue: str, status: str, origin: str | None = None) -> None:
        self.queue = queue
        self.status = status
        self.holder: str | None = None
        self.outcome: str | None = None
        self.origin = origin
        """The queue it was dead-lettered from (None: routed there by the publish itself)."""
        self.steps: list[FlowEvent] | None = None
        """The events of this copy in order (only when the ledger keeps stories)."""
        self.again = False
        """Acked once already and back (an ack lost with the connection, or a resent duplicate):
        its next ack settles it again but is not counted as another acked copy."""
        self.extra = 0
        """Duplicate copies (a resend) in consumers' hands beside this one: each needs its own ack."""

    @property
    def describe(self) -> str:
        """Where the copy is now, in words: ready, held by <consumer>, or its outcome."""
        if self.status == HELD:
            return f"held by {self.holder}"
        if self.status == CLOSED:
            return self.outcome or "closed"
        return "let go, fate pending" if self.status == BETWEEN else "ready"


class MessageRecord:
    """One message: what was published, where it was routed, and each of its copies."""

    __slots__ = (
        "body",
        "consumers",
        "copies",
        "exchange",
        "finished",
        "headers",
        "msg",
        "notes",
        "open",
        "open_routed",
        "published",
        "queues",
        "redelivered",
        "resent",
        "route_source",
        "routing_key",
    )

    def __init__(self, msg: str, exchange: str = "", routing_key: str = "", body: Any = None) -> None:
        self.msg = msg
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.headers: dict[str, Any] = {}
        self.published = False
        """False for copies of messages someone else published (seen only from their deliveries)."""
        self.queues: tuple[str, ...] | None = None
        """Where it was routed (None until the broker said); () means unroutable or returned."""
        self.route_source = ""
        self.redelivered = False
        self.resent = False
        """The producer sent it again after reconnecting: the broker may hold two copies per queue."""
        self.consumers: tuple[str, ...] = ()
        """Consumers that received a copy (a tuple: usually one or two, rarely grown)."""
        self.copies: dict[str, Copy] = {}
        self.notes: list[str] = []
        self.open = 0
        """Copies not yet closed, dead-letter copies included (a record is forgotten only at 0)."""
        self.open_routed = 0
        """Open copies the publish itself routed: settlement waits for these only (see `settled`)."""
        self.finished = False

    @property
    def settled(self) -> bool:
        """Every routed copy acked, dead-lettered, expired or dropped (or it was unroutable/returned).

        Copies a dead-letter exchange made do not count: dead-lettering settles the copy it came from.
        """
        return self.queues is not None and self.open_routed == 0

    def fate(self) -> dict[str, str]:
        """How each closed routed copy ended: queue (or "-" for the exchange) -> outcome.

        The settlement view: copies a dead-letter exchange made are in `copies`, not here.
        """
        return {q: c.outcome for q, c in self.copies.items() if c.outcome is not None and c.origin is None}

    def open_queues(self) -> set[str]:
        return {q for q, c in self.copies.items() if c.status != CLOSED}


@dataclass
class ExchangeCounts:
    published: int = 0
    unroutable: int = 0
    returned: int = 0


@dataclass
class QueueCounts:
    """`ready`/`unacked` follow local events and are reset by each broker depth report; the rest count
    what passed through. `waiting` holds ids of ready copies we know of, oldest first (an ordered set)."""

    ready: int = 0
    unacked: int = 0
    waiting: dict[str, None] = field(default_factory=dict)
    routed: int = 0
    acked: int = 0
    expired: int = 0
    dropped: int = 0
    dead_lettered: int = 0
    acks_lost: int = 0
    """Copies acked, then delivered again: the ack was lost with the connection (counted acked once)."""
    duplicates: int = 0
    """Second copies of a message a resend put here (their acks are not counted in `acked`)."""


@dataclass
class ConsumerCounts:
    """A consumer's reported state (or "working", derived from its deliveries) and running totals."""

    state: str = "idle"
    detail: str = ""
    in_hand: list[tuple[str, str]] = field(default_factory=list)
    """(message id, queue) copies delivered and not yet settled, oldest first."""
    processed: int = 0
    acked: int = 0
    requeued: int = 0
    dead_lettered: int = 0
    dropped: int = 0

    @property
    def current(self) -> str | None:
        return self.in_hand[-1][0] if self.in_hand else None


@dataclass
class BrokerInfo:
    """The status line's facts about the broker."""

    url: str = ""
    state: str = "starting"
    faithful: bool | None = None
    detail: str = ""


@dataclass(frozen=True)
class CopyTally:
    """Copies of the records kept, by status (the exchange-level entries are not copies)."""

    ready: int
    held: int
    between: int
    closed: int

    @property
    def total(self) -> int:
        return self.ready + self.held + self.between + self.closed
