"""Track each published message until every copy is settled (acked, dead-lettered, expired, dropped).

Headless exits when everything settled; the TUI uses the same rule for its "all settled" state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.events import (
    Acked,
    DeadLettered,
    Dropped,
    Expired,
    FlowEvent,
    Published,
    Rejected,
    Returned,
    Routed,
)


@dataclass
class MessageFate:
    """One message: the routing key, copies still open, and what became of each closed copy."""

    routing_key: str
    routed: bool = False
    open_copies: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)
    early: dict[str, str] = field(default_factory=dict)
    """Copies closed before the routed event arrived (threads race; a fast consumer can win)."""

    @property
    def settled(self) -> bool:
        return self.routed and not self.open_copies


class SettlementTracker:
    """Feed it events; it knows which messages are still in flight."""

    def __init__(self) -> None:
        self.messages: dict[str, MessageFate] = {}
        self._unsettled = 0
        """Running count, so `all_settled` stays O(1) under 20,000-message runs."""

    def feed(self, event: FlowEvent) -> None:
        msg = event.msg
        if msg is None:
            return
        if isinstance(event, Published):
            if msg not in self.messages:
                self.messages[msg] = MessageFate(event.routing_key)
                self._unsettled += 1
            return
        fate = self.messages.get(msg)
        if fate is None or fate.settled:
            return
        self._apply(fate, event)
        if fate.settled:
            self._unsettled -= 1

    def _apply(self, fate: MessageFate, event: FlowEvent) -> None:
        if isinstance(event, Routed):
            if not fate.routed:
                fate.routed = True
                fate.open_copies = set(event.queues) - set(fate.early)
                fate.outcomes.update(fate.early)
                if not event.queues:
                    fate.outcomes["-"] = "unroutable"
        elif isinstance(event, Returned):
            fate.routed = True
            fate.outcomes["-"] = "returned"
        elif isinstance(event, Acked):
            self._close(fate, event.queue, "acked")
        elif isinstance(event, DeadLettered):
            self._close(fate, event.queue, f"dead-lettered ({event.reason})")
        elif isinstance(event, Expired):
            self._close(fate, event.queue, "expired")
        elif isinstance(event, Dropped):
            self._close(fate, event.queue, f"dropped ({event.reason})")
        elif isinstance(event, Rejected) and event.action == "drop":
            self._close(fate, event.queue, "dropped by consumer")

    @staticmethod
    def _close(fate: MessageFate, queue: str, outcome: str) -> None:
        if not fate.routed:
            fate.early[queue] = outcome
        elif queue in fate.open_copies:
            fate.open_copies.discard(queue)
            fate.outcomes[queue] = outcome

    def unsettled(self) -> list[str]:
        """Ids of messages not yet settled, in publish order."""
        return [m for m, fate in self.messages.items() if not fate.settled]

    @property
    def all_settled(self) -> bool:
        return self._unsettled == 0
