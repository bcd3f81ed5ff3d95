"""The routing lens's words: for a key (and headers) typed now, why each binding matches or not.

Verdicts and reasons come from core.explain (which takes them from the router); this module only
styles them. Rich Text is built from plain strings, so routing keys and queue names are never read
as markup. The widget that shows them is tui/widgets/routing_lens.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from core.explain import (
    BindingVerdict,
    DirectExplanation,
    ExchangeExplanation,
    FanoutExplanation,
    FoldedVerdicts,
    HeadersExplanation,
    TopicExplanation,
    explain_route,
    fold_verdicts,
)
from core.routing import Binding, BindingTable, RouteResult, binding_key_warning, routing_key_problem
from tui.text import ShownText, visible

YES, NO = "✓", "✗"


def key_problem(key: str) -> str | None:
    """Why this typed key cannot be published (too long, or not encodable as UTF-8), or None."""
    try:
        return routing_key_problem(key)
    except UnicodeEncodeError:
        return "the routing key is not valid UTF-8 text"


def why_text(verdict: BindingVerdict) -> Text:
    """The reason one binding takes the message or not, styled."""
    why = verdict.why
    if isinstance(why, FanoutExplanation):
        return ShownText("fanout: every bound queue gets a copy, the key is ignored", "dim")
    if isinstance(why, DirectExplanation):
        if verdict.matched:
            return ShownText("the key equals the binding key")
        return ShownText(f"{why.key!r} is not {why.binding_key!r}", "red")
    if isinstance(why, HeadersExplanation):
        return _headers_text(why)
    return _topic_text(why, verdict.matched)


def _topic_text(exp: TopicExplanation, matched: bool) -> Text:
    text = ShownText()
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
    if not matched:
        if exp.steps:
            text.append("  ")
        text.append(exp.reason, "red")
    elif not exp.steps:
        text.append("empty pattern matches the empty key", "dim")
    if (warning := binding_key_warning(exp.pattern)) is not None:
        text.append(f"  (note: {warning})", "yellow")
    return text


def _short(words: str, limit: int = 40) -> str:
    """Long keys stay on one line in the lens: the middle is elided."""
    if len(words) <= limit:
        return words
    return words[: limit // 2] + "…" + words[-(limit // 2 - 1) :]


def _headers_text(exp: HeadersExplanation) -> Text:
    text = ShownText()
    text.append(f"x-match={exp.mode}:", "dim")
    for check in exp.checks:
        style = "green" if check.present else "red"
        text.append(" ")
        text.append(f"{check.name}={check.value}", style)
        text.append(YES if check.present else NO, style)
    return text


def verdict_lines(
    table: BindingTable,
    exchange: str,
    key: str,
    headers: Mapping[str, Any] | None,
    rows: int | None = None,
) -> Text:
    """The whole panel: one line per binding of `exchange`, then where the message would go. With a
    row budget, a long list shows its matches first and folds the rest into one line."""
    lines = ShownText()
    if (problem := key_problem(key)) is not None:
        lines.append(f"{NO} refused: {problem}\n", "bold red")
        lines.append("the broker would reject it, so no binding is consulted", "dim")
        return lines
    first, *onward = explain_route(table, exchange, key, headers)
    hops = [(hop, tuple(v for v in hop.verdicts if v.matched)) for hop in onward]
    if rows is None:
        folded = FoldedVerdicts(first.verdicts, ())
    else:  # the onward hops and the route line take their rows first
        folded = fold_verdicts(first.verdicts, rows - 1 - sum(1 + len(taken) for _, taken in hops))
    _verdict_rows(lines, first, folded.shown)
    if folded.folded:
        lines.append_text(fold_text(folded))
    if not first.verdicts:
        lines.append(f"exchange {visible(exchange)} has no bindings\n", "dim")
    for hop, taken in hops:  # exchange-to-exchange destinations and alternates: what each one took
        how = "alternate exchange" if hop.exchange in first.route.alternates else "then exchange"
        lines.append(f"{how} {visible(hop.exchange)} ({hop.exchange_type}):", "dim")
        lines.append(" nothing matched\n" if not taken else "\n", "dim")
        _verdict_rows(lines, hop, taken)
    lines.append_text(route_text(first.route))
    return lines


def fold_text(folded: FoldedVerdicts) -> Text:
    """The one line for the bindings left out, e.g. `+35 queues and 1 exchange do not match (37 bindings)`."""
    counts = [(folded.folded_count("queue"), "queue"), (folded.folded_count("exchange"), "exchange")]
    named = [f"{n} {noun}{'' if n == 1 else 's'}" for n, noun in counts if n]
    places = sum(n for n, _ in counts)
    text = f"+{' and '.join(named)} {'does' if places == 1 else 'do'} not match"
    if len(folded.folded) != places:
        text += f" ({len(folded.folded)} bindings)"
    return ShownText(f"{NO} {text}\n", "dim")


def _verdict_rows(lines: Text, explained: ExchangeExplanation, verdicts: tuple[BindingVerdict, ...]) -> None:
    """One line per binding: mark, destination, pattern, why."""
    kind = explained.exchange_type
    width = max((len(_destination_label(v.binding)) for v in verdicts), default=0)
    pattern_width = max((len(_binding_label(kind, v.binding)) for v in verdicts), default=0)
    for verdict in verdicts:
        mark, style = (YES, "bold green") if verdict.matched else (NO, "bold red")
        lines.append(f"{mark} ", style)
        lines.append(_destination_label(verdict.binding).ljust(width), "bold" if verdict.matched else "")
        lines.append("  ")
        lines.append(_binding_label(kind, verdict.binding).ljust(pattern_width), "cyan")
        lines.append("  ")
        lines.append_text(why_text(verdict))
        lines.append("\n")


def _destination_label(binding: Binding) -> str:
    if binding.destination_kind == "exchange":
        return f"exchange {visible(binding.destination)}"
    return visible(binding.destination)


def _binding_label(kind: str, binding: Binding) -> str:
    if kind == "headers":
        return "headers"
    if kind == "fanout":
        return "(fanout)"
    return visible(binding.routing_key) if binding.routing_key else '""'


def route_text(result: RouteResult) -> Text:
    """Where the router sends it: the queues, and the exchanges it went through on the way."""
    if not result.queues:
        return ShownText("-> no queue: unroutable, the exchange drops it", "bold yellow")
    text = ShownText()
    text.append("-> ", "bold")
    text.append(", ".join(result.queues), "bold green")
    onward = [x for x in result.exchanges[1:] if x not in result.alternates]
    if onward:
        text.append(f"  (through exchange {', '.join(onward)})", "dim")
    if result.via_alternate:
        text.append(f"  (via alternate exchange {result.via_alternate})", "dim")
    return text
