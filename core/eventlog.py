"""Plain one-line descriptions of events, in the tutorial's log voice (SENDING, RECEIVED, ACKNOWLEDGED).

Shared by headless text output and the TUI's event log, so both read the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from core.events import (
    Acked,
    BrokerStatus,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    Notice,
    Published,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
)

BODY_PREVIEW = 60


def body_preview(body: Any) -> str:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= BODY_PREVIEW else text[: BODY_PREVIEW - 1] + "…"


def describe(event: FlowEvent, keys: dict[str, str]) -> str:
    """One line for `event`; `keys` maps message id -> routing key (filled from Published events)."""
    m = event.msg or ""
    key = keys.get(m, "?")
    match event:
        case Published():
            keys[m] = event.routing_key
            return f"SENDING [{m}] {event.routing_key!r} to {event.exchange or '(default)'}: " + (
                body_preview(event.body)
            )
        case Routed(queues=()):
            return f"UNROUTABLE [{m}] {event.routing_key!r}: no binding matched"
        case Routed():
            via = f" via alternate exchange {event.via_alternate}" if event.via_alternate else ""
            return f"ROUTED [{m}] {event.routing_key!r} -> {', '.join(event.queues)}{via}"
        case Delivered():
            again = " (redelivered)" if event.redelivered else ""
            return f"RECEIVED [{m}] via {key!r} from {event.queue} by {event.consumer}{again}"
        case Acked():
            return f"ACKNOWLEDGED [{m}] from {event.queue} by {event.consumer}"
        case Rejected():
            return f"FAILED [{m}] in {event.consumer} on {event.queue}: {event.error} -> {event.action}"
        case Requeued():
            return f"REQUEUED [{m}] back to {event.queue} ({event.reason})"
        case DeadLettered():
            to = ", ".join(event.queues) if event.queues else event.exchange or "(default exchange)"
            return f"DEAD-LETTERED [{m}] from {event.queue} ({event.reason}) -> {to}"
        case Dropped():
            return f"DROPPED [{m}] from {event.queue}: {event.reason}"
        case Expired():
            return f"EXPIRED [{m}] in {event.queue}"
        case Returned():
            return f"RETURNED [{m}] {event.routing_key!r} from {event.exchange}: {event.reason}"
        case ConsumerState():
            detail = f" ({event.detail})" if event.detail else ""
            return f"CONSUMER {event.consumer}: {event.state}{detail}"
        case QueueDepth():
            return f"DEPTH {event.queue}: {event.ready} ready, {event.unacked} unacked"
        case BrokerStatus():
            kind = "RabbitMQ-faithful" if event.faithful else "NOT RabbitMQ-faithful"
            return f"BROKER {event.broker}: {event.state} ({event.detail}, {kind})"
        case Notice():
            return f"{event.level.upper()}: {event.text}"
    return f"{event.kind.upper()} [{m}]"


class EventPrinter:
    """Headless output: one line per event (JSON or text), held back until the broker first connects.

    A broker that is never reached (wrong host, password or vhost) then shows as the one error line on
    stderr, not as status lines on stdout followed by it; once connected, the held lines come out first.
    """

    def __init__(self, out: TextIO, as_json: bool) -> None:
        self._out = out
        self._as_json = as_json
        self._keys: dict[str, str] = {}
        self._held: list[str] | None = []
        self.last_status: BrokerStatus | None = None
        """The broker's latest status, to say what it was doing when a run ends early."""

    @property
    def connected(self) -> bool:
        return self._held is None

    def write(self, events: Iterable[FlowEvent]) -> None:
        lines: list[str] = []
        for event in events:
            lines.append(
                json.dumps(event.to_json(), default=str, ensure_ascii=False)
                if self._as_json
                else describe(event, self._keys)
            )
            if isinstance(event, BrokerStatus):
                self.last_status = event
                if self._held is not None and event.state == "connected":
                    lines, self._held = self._held + lines, None
        if self._held is not None:
            self._held.extend(lines)
        elif lines:
            self._out.write("\n".join(lines) + "\n")

    def release(self) -> None:
        """Write what is held back without waiting for the connection (a run that ends anyway)."""
        if self._held:
            self._out.write("\n".join(self._held) + "\n")
        self._held = None
