"""The inspector: one message (body, headers, key, redelivered, each copy's story and fate) or one node.

It reads the app's core.ledger.Ledger and re-renders only when what it shows was touched by a frame's
events. `node_text` also makes the canvas's hover tooltips, so a node reads the same everywhere.
Everything is plain Text: bodies and keys come from users and brokers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from core.events import (
    Acked,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    Rejected,
    Requeued,
    Returned,
    Routed,
)
from core.ledger import Ledger
from core.queue_marks import queue_marks
from core.records import CLOSED, EXCHANGE, MessageRecord
from core.topology import BindingSpec
from tui.text import ShownText, capped, visible_text

LABEL = "bold"


def _pretty(value: Any) -> str:
    """Indented JSON (else repr), cut to PREVIEW_BYTES: a 5 MB body is a preview, not 5 MB of lines."""
    try:
        shown = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        try:
            shown = repr(value)
        except ValueError as exc:  # an int past Python's digit limit has no repr either
            return f"(not shown: {exc})"
    return capped(shown)


def _field(text: Text, label: str, value: str, style: str = "") -> None:
    text.append(f"{label:<12}", LABEL)
    text.append(value, style)
    text.append("\n")


def message_text(record: MessageRecord) -> Text:
    """Everything known about one message, copy by copy."""
    text = ShownText()
    text.append("message ", "dim")
    text.append(record.msg, "bold reverse")
    text.append("\n")
    _field(text, "routing key", record.routing_key if record.routing_key else '"" (empty)', "cyan")
    _field(text, "exchange", record.exchange or "(default exchange)")
    _field(text, "redelivered", "yes" if record.redelivered else "no", "yellow" if record.redelivered else "")
    if record.headers:
        _field(text, "headers", _pretty(record.headers))
    _field(text, "body", _pretty(record.body))
    if record.queues is None:
        text.append("not routed yet\n", "dim")
    elif not record.queues:
        text.append("routed to no queue: dropped at the exchange\n", "bold yellow")
    else:
        text.append(f"{len(record.queues)} cop{'y' if len(record.queues) == 1 else 'ies'}", LABEL)
        reborn = sum(1 for copy in record.copies.values() if copy.origin is not None)
        if reborn:
            text.append(f", {reborn} more by dead-lettering", LABEL)
        text.append(f" (routing reported by {record.route_source})\n", "dim")
    for where, copy in record.copies.items():
        text.append(f"  {'exchange' if where == EXCHANGE else where}: ", "bold")
        if copy.status == CLOSED:
            outcome = copy.outcome or "closed"
            text.append(outcome, "bold green" if outcome == "acked" else "bold red")
        else:
            text.append(f"in flight ({copy.describe})", "bold yellow")
        text.append("\n")
        for step in copy.steps or ():
            text.append(f"    · {step_text(where, step)}\n")
        delivered = [step for step in copy.steps or () if isinstance(step, Delivered)]
        if delivered:
            _copy_details(text, record.headers, delivered[-1])
    for note in record.notes:
        text.append(f"note: {note}\n", "yellow")
    text.append("\nEsc closes · F1 shows the newest message · click a token or a box", "dim")
    return text


BROKER_HEADERS = (
    "x-death",
    "x-delivery-count",
    "x-first-death-reason",
    "x-first-death-queue",
    "x-first-death-exchange",
)
"""Headers the broker adds to a copy: shown one by one, not as part of the copy's other headers."""


def _copy_details(text: Text, published: Any, delivered: Delivered) -> None:
    """What the copy carried when it was last delivered: x-death entries (count, reason, queue,
    time), x-delivery-count, headers that differ from the published ones, and AMQP properties."""
    headers = dict(delivered.headers)
    for death in headers.get("x-death") or ():
        if isinstance(death, dict):
            when = _when(death.get("time"))
            text.append("      x-death ", "bold")
            text.append(
                f"count {death.get('count')}, reason {death.get('reason')}, queue {death.get('queue')}, "
                f"time {when}\n",
                "red",
            )
    if "x-delivery-count" in headers:
        text.append("      x-delivery-count ", "bold")
        text.append(f"{headers['x-delivery-count']}\n")
    own = {k: v for k, v in headers.items() if k not in BROKER_HEADERS}
    if own and own != dict(published or {}):
        text.append("      headers ", "bold")
        text.append(_pretty(own).replace("\n", "\n      ") + "\n")
    if delivered.properties:
        text.append("      properties ", "bold")
        text.append(", ".join(f"{k}={v}" for k, v in sorted(delivered.properties.items())) + "\n")


def _when(value: Any) -> str:
    """x-death's time: a timestamp (RabbitMQ's, decoded by pyamqp) or seconds (mqscope://'s), as UTC."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        return str(value)
    return moment.strftime("%H:%M:%S UTC")


def step_text(where: str, event: FlowEvent) -> str:
    """One line of a copy's story."""
    match event:
        case Routed():
            if where == EXCHANGE:
                return "unroutable: no binding matched, dropped at the exchange"
            return f"routed to {where}"
        case Delivered():
            again = " (redelivered)" if event.redelivered else ""
            return f"delivered to {event.consumer}{again}"
        case Acked():
            return f"acknowledged by {event.consumer}"
        case Rejected():
            reason = f": {event.error}" if event.error else ""
            return f"failed in {event.consumer}{reason} -> {event.action}"
        case Requeued():
            return f"back in {event.queue} ({event.reason})"
        case DeadLettered() if where != event.queue:
            return f"dead-lettered here from {event.queue} ({event.reason})"
        case DeadLettered():
            to = ", ".join(event.queues) or event.exchange or "the default exchange"
            return f"dead-lettered ({event.reason}) to {to}"
        case Dropped():
            return f"dropped: {event.reason}"
        case Expired():
            return "expired (TTL)"
        case Returned():
            return f"returned to the producer ({event.reason})"
    return event.kind


def node_text(ledger: Ledger, kind: str, name: str, *, recent: int = 8) -> Text:
    """A queue, consumer or exchange: its settings, its counts and (up to `recent`) the latest messages
    through it. The inspector shows it, and so does the canvas's hover tooltip (with recent=0)."""
    text = ShownText()
    text.append(f"{kind} ", "dim")
    text.append(name, "bold reverse")
    text.append("\n")
    topology = ledger.topology
    through: list[str] = []
    if kind == "queue" and (spec := topology.queue(name)) is not None:
        for b in spec.bindings:
            source = topology.exchange(b.exchange)
            text.append(f"bound to {b.exchange} with {_binding_label(source.type if source else '', b)}\n")
        settings = []
        if spec.message_ttl is not None:
            settings.append(f"ttl {spec.message_ttl:g}s")
        if spec.max_length is not None:
            settings.append(f"max length {spec.max_length}")
        if spec.dead_letter_exchange:
            key = spec.dead_letter_routing_key
            as_key = f" as {key!r}" if key is not None else ""
            settings.append(f"dead letters go to {spec.dead_letter_exchange}{as_key}")
        if settings:
            text.append(" · ".join(settings) + "\n")
        for mark in queue_marks(spec.queue_arguments()):
            text.append(mark.words + "\n")
        if (q := ledger.queues.get(name)) is not None:
            _field(text, "ready", str(q.ready))
            _field(text, "unacked", str(q.unacked))
            _field(text, "routed here", str(q.routed))
            _field(text, "acked", str(q.acked))
            if q.expired or q.dropped or q.dead_lettered:
                _field(text, "expired", str(q.expired))
                _field(text, "dropped", str(q.dropped))
                _field(text, "dead-letter", str(q.dead_lettered))
        readers = [c.name for c in topology.consumers if name in c.queues]
        _field(text, "consumers", ", ".join(readers) or "none")
        through = ledger.messages_through(queue=name, limit=recent) if recent else []
    elif kind == "consumer" and (cspec := topology.consumer(name)) is not None:
        if (c := ledger.consumers.get(name)) is not None:
            _field(text, "state", c.state, "bold")
            if c.detail:
                _field(text, "detail", c.detail)
            _field(text, "current", c.current or "-")
            _field(text, "processed", str(c.processed))
            _field(text, "acked", str(c.acked))
            _field(text, "requeued", str(c.requeued))
            _field(text, "dead-letter", str(c.dead_lettered))
            _field(text, "dropped", str(c.dropped))
        _field(text, "queues", ", ".join(cspec.queues))
        _field(text, "prefetch", str(cspec.prefetch or "unlimited"))
        _field(text, "work", f"{cspec.work_seconds:g} s per message")
        _field(text, "on failure", cspec.on_failure)
        through = ledger.messages_through(consumer=name, limit=recent) if recent else []
    elif kind == "exchange" and (espec := topology.exchange(name)) is not None:
        _field(text, "type", espec.type)
        if espec.alternate_exchange:
            _field(text, "alternate", espec.alternate_exchange)
        bound = sum(1 for q in topology.queues for b in q.bindings if b.exchange == name)
        _field(text, "bindings", str(bound))
        for b in espec.bindings:  # exchange-to-exchange: what it takes in from other exchanges
            source = topology.exchange(b.exchange)
            text.append(
                f"takes from exchange {b.exchange} with {_binding_label(source.type if source else '', b)}\n"
            )
        for other in topology.exchanges:
            for b in other.bindings:
                if b.exchange == name:
                    text.append(f"passes to exchange {other.name} with {_binding_label(espec.type, b)}\n")
        if (e := ledger.exchanges.get(name)) is not None:
            _field(text, "published", str(e.published))
            _field(text, "unroutable", str(e.unroutable))
            _field(text, "returned", str(e.returned))
        through = ledger.messages_through(exchange=name, limit=recent) if recent else []
    else:
        text.append("unknown\n", "dim")
    if through:
        text.append("recent messages\n", LABEL)
        for msg in through:
            record = ledger.records[msg]
            outcome = ", ".join(sorted(set(record.fate().values()))) or "in flight"
            text.append(f"  {msg} ")
            text.append(record.routing_key or '""', "cyan")
            text.append(f"  {outcome}\n", "dim")
    if recent:
        text.append("\nEsc closes · F1 shows the newest message", "dim")
    else:
        text.rstrip()  # a tooltip: no trailing blank line
    return text


def _binding_label(exchange_type: str, binding: BindingSpec) -> str:
    if exchange_type == "headers":
        return " ".join(f"{k}={v}" for k, v in binding.arguments.items()) or "(no arguments)"
    if exchange_type == "fanout":
        return "(fanout: every message)"
    return repr(binding.routing_key)


class Inspector(VerticalScroll):
    """Shows what the user clicked (a message or a node); Escape closes it."""

    DEFAULT_CSS = """
    Inspector {
        border-left: tall $primary;
        background: $surface;
        padding: 0 1;
        & #inspector-body { width: 1fr; }
    }
    """

    target: reactive[tuple[str, str] | None] = reactive(None, init=False)
    """(kind, name): kind is "message", "queue", "consumer" or "exchange"; None shows nothing."""

    def __init__(self, ledger: Ledger, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ledger = ledger
        self.border_title = "inspector (esc closes)"

    def compose(self) -> ComposeResult:
        yield Static(id="inspector-body", markup=False)

    def watch_target(self) -> None:
        self.render_target()

    def render_target(self) -> None:
        body = self.query_one("#inspector-body", Static)
        if self.target is None:
            body.update(ShownText("click a queue, a consumer or a moving message", "dim"))
            return
        kind, name = self.target
        if kind == "message":
            record = self.ledger.records.get(name)
            body.update(
                visible_text(message_text(record))
                if record is not None
                else ShownText(f"message {name} is no longer remembered", "dim")
            )
        else:
            body.update(visible_text(node_text(self.ledger, kind, name)))

    def events_arrived(self, events: Sequence[FlowEvent]) -> None:
        """Re-render only when the frame touched the shown message (or any event, for a node)."""
        if self.target is None or not self.display:
            return
        kind, name = self.target
        if kind != "message" or any(e.msg == name for e in events):
            self.render_target()
