"""The inspector: one message (body, headers, key, redelivered, each copy's story and fate) or one node.

It reads tui.state.FlowState and re-renders only when what it shows was touched by a frame's events.
Everything is plain Text: bodies and keys come from users and brokers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
from tui.state import FlowState, MessageRecord, step_text

LABEL = "bold"


def _pretty(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _field(text: Text, label: str, value: str, style: str = "") -> None:
    text.append(f"{label:<12}", LABEL)
    text.append(value, style)
    text.append("\n")


def copy_status(
    where: str, steps: Sequence[FlowEvent], outcome: str | None, is_open: bool
) -> tuple[str, str]:
    """What became of one copy, never blank: the settlement's outcome when it has one, else read from
    the copy's own story (a dead-lettered copy is born after its message settled, so the settlement
    tracker has no entry for it)."""
    if outcome is not None:
        return outcome, "bold green" if outcome == "acked" else "bold red"
    last = steps[-1] if steps else None
    match last:
        case Acked():
            return "acked", "bold green"
        case Delivered():
            return f"unacked, with {last.consumer}", "bold yellow"
        case Rejected() if last.action == "drop":
            return "dropped by consumer", "bold red"
        case Rejected() | Routed() | Requeued():
            return f"ready in {where}", "bold yellow"
        case DeadLettered():
            return f"dead-lettered ({last.reason})", "bold red"
        case Expired():
            return "expired", "bold red"
        case Dropped():
            return f"dropped ({last.reason})", "bold red"
        case Returned():
            return "returned to the producer", "bold red"
    return ("in flight" if is_open else "status unknown"), "bold yellow"


def dead_letter_origin(record: MessageRecord, where: str) -> str | None:
    """The queue that dead-lettered a copy into `where`, when `where` got its copy that way."""
    if record.queues is not None and where in record.queues:
        return None
    for source, steps in record.history.items():
        for step in steps:
            if isinstance(step, DeadLettered) and where in step.queues:
                return source
    return None


def message_text(state: FlowState, record: MessageRecord) -> Text:
    """Everything known about one message, copy by copy."""
    text = Text()
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
        reborn = sum(1 for where in record.history if dead_letter_origin(record, where) is not None)
        if reborn:
            text.append(f", {reborn} more by dead-lettering", LABEL)
        text.append(f" (routing reported by {record.route_source})\n", "dim")
    fate = state.fate(record.msg)
    open_copies = state.open_copies(record.msg)
    for where, steps in record.history.items():
        title = "exchange" if where == "-" else where
        text.append(f"  {title}: ", "bold")
        status, style = copy_status(where, steps, fate.get(where), where in open_copies)
        text.append(status, style)
        origin = dead_letter_origin(record, where)
        if origin is not None:
            text.append(f" (dead-lettered here from {origin})", "dim")
        text.append("\n")
        for step in steps:
            text.append(f"    · {step_text(where, step)}\n")
    for note in record.notes:
        text.append(f"note: {note}\n", "yellow")
    text.append("\nEsc closes · F1 shows the newest message · click a token or a box", "dim")
    return text


def node_text(state: FlowState, kind: str, name: str) -> Text:
    """A queue, consumer or exchange: its settings, counts and the latest messages through it."""
    text = Text()
    text.append(f"{kind} ", "dim")
    text.append(name, "bold reverse")
    text.append("\n")
    topology = state.topology
    recent: list[str] = []
    if kind == "queue" and (spec := topology.queue(name)) is not None:
        stats = state.queues.get(name)
        for b in spec.bindings:
            _field(text, "bound", f"{b.exchange} <- {b.routing_key or dict(b.arguments) or '(any)'}")
        for arg, value in spec.queue_arguments().items():
            _field(text, arg, str(value))
        if stats is not None:
            _field(text, "ready", str(stats.ready))
            _field(text, "unacked", str(stats.unacked))
            _field(text, "routed here", str(stats.routed))
            _field(text, "acked", str(stats.acked))
        readers = [c.name for c in topology.consumers if name in c.queues]
        _field(text, "consumers", ", ".join(readers) or "none")
        recent = state.messages_through(queue=name)
    elif kind == "consumer" and (cspec := topology.consumer(name)) is not None:
        cstats = state.consumers.get(name)
        if cstats is not None:
            _field(text, "state", cstats.state, "bold")
            if cstats.detail:
                _field(text, "detail", cstats.detail)
            _field(text, "current", cstats.current or "-")
            _field(text, "processed", str(cstats.processed))
            _field(text, "acked", str(cstats.acked))
            _field(text, "requeued", str(cstats.requeued))
            _field(text, "dead-letter", str(cstats.dead_lettered))
        _field(text, "queues", ", ".join(cspec.queues))
        _field(text, "prefetch", str(cspec.prefetch or "unlimited"))
        _field(text, "work", f"{cspec.work_seconds:g} s per message")
        _field(text, "on failure", cspec.on_failure)
        recent = state.messages_through(consumer=name)
    elif kind == "exchange" and (espec := topology.exchange(name)) is not None:
        _field(text, "type", espec.type)
        if espec.alternate_exchange:
            _field(text, "alternate", espec.alternate_exchange)
        bound = sum(1 for q in topology.queues for b in q.bindings if b.exchange == name)
        _field(text, "bindings", str(bound))
        recent = [r.msg for r in reversed(state.messages.values()) if r.exchange == name][:8]
    else:
        text.append("unknown\n", "dim")
    if recent:
        text.append("recent messages\n", LABEL)
        for msg in recent:
            record = state.messages[msg]
            outcome = ", ".join(sorted(set(state.fate(msg).values()))) or "in flight"
            text.append(f"  {msg} ")
            text.append(record.routing_key or '""', "cyan")
            text.append(f"  {outcome}\n", "dim")
    text.append("\nEsc closes · F1 shows the newest message", "dim")
    return text


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

    def __init__(self, state: FlowState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.border_title = "inspector (esc closes)"

    def compose(self) -> ComposeResult:
        yield Static(id="inspector-body", markup=False)

    def watch_target(self) -> None:
        self.render_target()

    def render_target(self) -> None:
        body = self.query_one("#inspector-body", Static)
        if self.target is None:
            body.update(Text("click a queue, a consumer or a moving message", "dim"))
            return
        kind, name = self.target
        if kind == "message":
            record = self.state.messages.get(name)
            body.update(
                message_text(self.state, record)
                if record is not None
                else Text(f"message {name} is no longer remembered", "dim")
            )
        else:
            body.update(node_text(self.state, kind, name))

    def events_arrived(self, events: Sequence[FlowEvent]) -> None:
        """Re-render only when the frame touched the shown message (or any event, for a node)."""
        if self.target is None or not self.display:
            return
        kind, name = self.target
        if kind != "message" or any(e.msg == name for e in events):
            self.render_target()
