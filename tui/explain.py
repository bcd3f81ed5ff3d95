"""The routing lens's words: for a key (and headers) typed now, why each binding matches or not.

Pure functions returning Rich Text built from plain strings, so routing keys and queue names are
never read as markup. The widget that shows them is tui/widgets/routing_lens.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from core.routing import (
    binding_key_warning,
    explain_topic,
    headers_match,
    route,
    routing_key_problem,
)
from core.topology import BindingSpec, ExchangeSpec, Topology

YES, NO = "✓", "✗"


def key_problem(key: str) -> str | None:
    """Why this typed key cannot be published (too long, or not encodable as UTF-8), or None."""
    try:
        return routing_key_problem(key)
    except UnicodeEncodeError:
        return "the routing key is not valid UTF-8 text"


@dataclass(frozen=True)
class BindingVerdict:
    """One binding of the chosen exchange, whether it takes the message, and the explanation."""

    queue: str
    binding: BindingSpec
    matched: bool
    why: Text


def bindings_of(topology: Topology, exchange: str) -> list[tuple[str, BindingSpec]]:
    """(queue, binding) for every binding on `exchange`, in scenario order."""
    return [(q.name, b) for q in topology.queues for b in q.bindings if b.exchange == exchange]


def verdicts(
    topology: Topology, exchange: ExchangeSpec, key: str, headers: Mapping[str, Any] | None
) -> list[BindingVerdict]:
    """Explain every binding of `exchange` for this key and headers."""
    out = []
    for queue, binding in bindings_of(topology, exchange.name):
        matched, why = _explain(exchange.type, binding, key, headers or {})
        out.append(BindingVerdict(queue, binding, matched, why))
    return out


def _explain(kind: str, binding: BindingSpec, key: str, headers: Mapping[str, Any]) -> tuple[bool, Text]:
    if kind == "fanout":
        return True, Text("fanout: every bound queue gets a copy, the key is ignored", "dim")
    if kind == "direct":
        if binding.routing_key == key:
            return True, Text("the key equals the binding key")
        return False, Text(f"{key!r} is not {binding.routing_key!r}", "red")
    if kind == "headers":
        return _explain_headers(binding.arguments, headers)
    return _explain_topic(binding.routing_key, key)


def _explain_topic(pattern: str, key: str) -> tuple[bool, Text]:
    exp = explain_topic(pattern, key)
    text = Text()
    for i, step in enumerate(exp.steps):
        if i:
            text.append("  ")
        if step.pattern_word == "#":
            taken = _short(".".join(step.key_words)) if step.key_words else "zero words"
            text.append("#", "bold magenta")
            text.append("=")
            text.append(taken, "italic" if not step.key_words else "")
        elif step.pattern_word == "*":
            text.append("*", "bold magenta")
            text.append("=")
            text.append(_short(step.key_words[0]) if step.key_words else "?")
        else:
            text.append(step.pattern_word, "green")
    if not exp.matched:
        if exp.steps:
            text.append("  ")
        text.append(exp.reason, "red")
    elif not exp.steps:
        text.append("empty pattern matches the empty key", "dim")
    if (warning := binding_key_warning(pattern)) is not None:
        text.append(f"  (note: {warning})", "yellow")
    return exp.matched, text


def _short(words: str, limit: int = 40) -> str:
    """Long keys stay on one line in the lens: the middle is elided."""
    if len(words) <= limit:
        return words
    return words[: limit // 2] + "…" + words[-(limit // 2 - 1) :]


def _explain_headers(arguments: Mapping[str, Any], headers: Mapping[str, Any]) -> tuple[bool, Text]:
    mode = str(arguments.get("x-match", "all"))
    text = Text()
    text.append(f"x-match={mode}:", "dim")
    for name, value in arguments.items():
        if name == "x-match":
            continue
        ok = name in headers and (value is None or headers[name] == value)
        text.append(" ")
        text.append(f"{name}={value}", "green" if ok else "red")
        text.append(YES if ok else NO, "green" if ok else "red")
    return headers_match(arguments, headers), text


def verdict_lines(
    topology: Topology, exchange: ExchangeSpec, key: str, headers: Mapping[str, Any] | None
) -> Text:
    """The whole panel: one line per binding, then where the message would go."""
    lines = Text()
    if (problem := key_problem(key)) is not None:
        lines.append(f"{NO} refused: {problem}\n", "bold red")
        lines.append("the broker would reject it, so no binding is consulted", "dim")
        return lines
    results = verdicts(topology, exchange, key, headers)
    width = max((len(v.queue) for v in results), default=0)
    pattern_width = max((len(_binding_label(exchange.type, v.binding)) for v in results), default=0)
    for verdict in results:
        mark, style = (YES, "bold green") if verdict.matched else (NO, "bold red")
        lines.append(f"{mark} ", style)
        lines.append(verdict.queue.ljust(width), "bold" if verdict.matched else "")
        lines.append("  ")
        lines.append(_binding_label(exchange.type, verdict.binding).ljust(pattern_width), "cyan")
        lines.append("  ")
        lines.append_text(verdict.why)
        lines.append("\n")
    if not results:
        lines.append(f"exchange {exchange.name} has no bindings\n", "dim")
    lines.append_text(destination(topology, exchange.name, key, headers))
    return lines


def _binding_label(kind: str, binding: BindingSpec) -> str:
    if kind == "headers":
        return "headers"
    if kind == "fanout":
        return "(fanout)"
    return binding.routing_key if binding.routing_key else '""'


def destination(topology: Topology, exchange: str, key: str, headers: Mapping[str, Any] | None) -> Text:
    """`-> queue, queue` or why the message would be dropped at the exchange."""
    if (problem := key_problem(key)) is not None:
        return Text(f"{NO} refused: {problem}", "bold red")
    result = route(topology, exchange, key, headers)
    if not result.queues:
        return Text("-> no queue: unroutable, the exchange drops it", "bold yellow")
    text = Text()
    text.append("-> ", "bold")
    text.append(", ".join(result.queues), "bold green")
    if result.via_alternate:
        text.append(f"  (via alternate exchange {result.via_alternate})", "dim")
    return text
