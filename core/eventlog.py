"""Plain one-line descriptions of events, in the tutorial's log voice (SENDING, RECEIVED, ACKNOWLEDGED).

Shared by headless text output and the TUI's event log, so both read the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from core.events import (
    Acked,
    BrokerStatus,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    InternalError,
    Notice,
    Published,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
    ScriptEnded,
    ScriptOutput,
    TopologyChanged,
)
from core.text import visible

BODY_PREVIEW = 60
_PREVIEW_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
"""json.dumps with options builds an encoder per call (a SENDING line per message): made once."""


def body_preview(body: Any) -> str:
    text = _PREVIEW_JSON.encode(body)
    return text if len(text) <= BODY_PREVIEW else text[: BODY_PREVIEW - 1] + "…"


def topology_entity_text(event: TopologyChanged) -> str:
    """The entity in a few words: `'video_queue' (x-max-length=3)` or `media_exchange -> q 'video.#'`."""
    fields = event.change.fields()
    if event.change.kind == "binding":
        match = fields["routing_key"] if not fields["arguments"] else fields["arguments"]
        return f"{fields['source']} -> {fields['destination']} {match!r}"
    extras = [f"{k}={v}" for k, v in fields.get("arguments", {}).items()]
    if event.change.kind == "exchange":
        extras.insert(0, str(fields["type"]))
    if event.change.kind == "consumer":
        extras = [f"on {', '.join(fields['queues'])}", f"prefetch {fields['prefetch']}"]
        if fields.get("foreign"):  # another program's: its ack mode is what mqscope can say of it
            extras.append(f"{fields['ack']} ack, not mqscope's")
    return f"{fields['name']!r}" + (f" ({', '.join(extras)})" if extras else "")


def describe(event: FlowEvent, routing_key: Callable[[str], str | None]) -> str:
    """One line for `event`; `routing_key` looks up a message's key (the caller keeps them, bounded).

    Control characters in names, keys and bodies are shown as escapes (core.text.visible): the line
    goes to a terminal, and `ESC ]0;...` in a queue name must not retitle it."""
    return visible(_describe(event, routing_key))


def _describe(event: FlowEvent, routing_key: Callable[[str], str | None]) -> str:
    m = event.msg or ""
    match event:
        case Published():
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
            key = routing_key(m) or "?"
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
        case TopologyChanged():
            verb = "DECLARED" if event.change.op == "declare" else "DELETED"
            if event.origin == "discovered":  # someone else made it: mqscope only saw it
                verb = "FOUND" if event.change.op == "declare" else "GONE"
            return f"{verb} {event.change.kind} {topology_entity_text(event)}"
        case ScriptOutput():
            return f"{'OUT' if event.stream == 'stdout' else 'ERR'}| {event.text}"
        case ScriptEnded(exit_code=0):
            return f"SCRIPT {event.script} ended (exit 0)"
        case ScriptEnded():
            why = f": {event.error}" if event.error else ""
            return f"SCRIPT {event.script} ended with exit code {event.exit_code}{why}"
        case InternalError():
            return f"INTERNAL ERROR in {event.where}: {event.error}"
    return f"{event.kind.upper()} [{m}]"
