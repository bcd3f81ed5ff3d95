"""Why a binding takes a message or not, word by word: the explanations behind the lens.

The verdict (matched or not) always comes from the router (core.routing), so an explanation can
never disagree with where the message goes; this module only says why, in parts the TUI styles.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.routing import (
    Binding,
    BindingTable,
    RouteResult,
    header_matches,
    headers_compared,
    split_words,
)


@dataclass(frozen=True)
class WordStep:
    """One pattern word and the key words it consumed (a '#' may consume none)."""

    pattern_word: str
    key_words: tuple[str, ...]
    key_start: int


@dataclass(frozen=True)
class TopicExplanation:
    """Why a topic pattern does or does not match a key, word by word."""

    pattern: str
    key: str
    matched: bool
    steps: tuple[WordStep, ...]
    failed_pattern_index: int | None = None
    failed_key_index: int | None = None
    reason: str = ""

    def summary(self) -> str:
        """A one-line reading of the alignment, e.g. `video=video, #=upload`."""
        parts = []
        for step in self.steps:
            if step.pattern_word == "#":
                taken = ".".join(step.key_words) if step.key_words else "(zero words)"
                parts.append(f"#={taken}")
            elif step.pattern_word == "*":
                parts.append(f"*={step.key_words[0]!r}" if step.key_words else "*=?")
            else:
                parts.append(step.pattern_word)
        text = " ".join(parts)
        if self.matched:
            return text or "empty pattern = empty key"
        return f"{text} -- {self.reason}" if text else self.reason


def explain_topic(pattern: str, key: str) -> TopicExplanation:
    """Explain the match: the alignment when it matches, else the furthest attempt and its break."""
    pwords, kwords = split_words(pattern), split_words(key)
    memo: dict[tuple[int, int], tuple[WordStep, ...] | None] = {}

    def align(p: int, k: int) -> tuple[WordStep, ...] | None:
        if (p, k) in memo:
            return memo[(p, k)]
        result: tuple[WordStep, ...] | None = None
        if p == len(pwords):
            result = () if k == len(kwords) else None
        elif pwords[p] == "#":
            # Prefer the fewest words for '#', so the explanation shows zero-word matches plainly.
            for take in range(0, len(kwords) - k + 1):
                rest = align(p + 1, k + take)
                if rest is not None:
                    result = (WordStep("#", tuple(kwords[k : k + take]), k), *rest)
                    break
        elif k < len(kwords) and (pwords[p] == "*" or pwords[p] == kwords[k]):
            rest = align(p + 1, k + 1)
            if rest is not None:
                result = (WordStep(pwords[p], (kwords[k],), k), *rest)
        memo[(p, k)] = result
        return result

    steps = align(0, 0)
    if steps is not None:
        return TopicExplanation(pattern, key, True, steps)
    return _explain_failure(pattern, key, pwords, kwords)


def _explain_failure(
    pattern: str, key: str, pwords: tuple[str, ...], kwords: tuple[str, ...]
) -> TopicExplanation:
    """Walk greedily to the first word that breaks the match, and say why in plain words."""
    steps: list[WordStep] = []
    k = 0
    for p, word in enumerate(pwords):
        if word == "#":
            remaining_literals = [w for w in pwords[p + 1 :] if w not in ("#", "*")]
            if not remaining_literals:
                # '#' followed only by '*'s: it fails only if too few words remain.
                needed = sum(1 for w in pwords[p + 1 :] if w == "*")
                have = len(kwords) - k
                return TopicExplanation(
                    pattern,
                    key,
                    False,
                    tuple(steps),
                    p,
                    len(kwords),
                    f"after '#', the pattern needs {needed} more word(s) but the key has {have}",
                )
            target = remaining_literals[0]
            return TopicExplanation(
                pattern,
                key,
                False,
                tuple(steps),
                p + 1,
                k,
                f"no way for '#' to reach the word {target!r} (and what follows) in the key",
            )
        if k >= len(kwords):
            return TopicExplanation(
                pattern,
                key,
                False,
                tuple(steps),
                p,
                k,
                f"the key ended, but the pattern still needs {word!r}",
            )
        if word != "*" and word != kwords[k]:
            return TopicExplanation(
                pattern,
                key,
                False,
                tuple(steps),
                p,
                k,
                f"word {k + 1}: {kwords[k]!r} is not {word!r}",
            )
        steps.append(WordStep(word, (kwords[k],), k))
        k += 1
    extra = ".".join(kwords[k:])
    return TopicExplanation(
        pattern,
        key,
        False,
        tuple(steps),
        len(pwords),
        k,
        f"the pattern ended, but the key has more words: {extra!r}",
    )


@dataclass(frozen=True)
class HeaderCheck:
    """One argument of a headers binding against the message's headers."""

    name: str
    value: Any
    present: bool


@dataclass(frozen=True)
class HeadersExplanation:
    """A headers binding: its x-match mode and each argument, found in the headers or not."""

    mode: str
    checks: tuple[HeaderCheck, ...]


@dataclass(frozen=True)
class DirectExplanation:
    """A direct binding: the key must equal the binding key."""

    binding_key: str
    key: str


@dataclass(frozen=True)
class FanoutExplanation:
    """A fanout binding takes every message; the key is not read."""


Explanation = TopicExplanation | HeadersExplanation | DirectExplanation | FanoutExplanation


def explain_binding(
    exchange_type: str, binding: Binding, key: str, headers: Mapping[str, Any] | None
) -> Explanation:
    """The reasoning for one binding of an exchange of `exchange_type` (not the verdict itself)."""
    if exchange_type == "fanout":
        return FanoutExplanation()
    if exchange_type == "direct":
        return DirectExplanation(binding.routing_key, key)
    if exchange_type == "headers":
        arguments = binding.arguments
        found = headers or {}
        mode = str(arguments.get("x-match", "all"))
        checks = tuple(
            HeaderCheck(name, value, header_matches(name, value, found))
            for name, value in headers_compared(arguments).items()
        )
        return HeadersExplanation(mode, checks)
    return explain_topic(binding.routing_key, key)


@dataclass(frozen=True)
class BindingVerdict:
    """One binding of the explained exchange: whether the router sent the message through it, and why."""

    binding: Binding
    matched: bool
    why: Explanation


@dataclass(frozen=True)
class ExchangeExplanation:
    """Every binding of one exchange judged for one message, and the route the router took."""

    exchange: str
    exchange_type: str
    verdicts: tuple[BindingVerdict, ...]
    route: RouteResult


def explain_exchange(
    table: BindingTable,
    exchange: str,
    key: str,
    headers: Mapping[str, Any] | None,
    route: RouteResult | None = None,
) -> ExchangeExplanation:
    """Judge each binding of `exchange` for this key and headers (KeyError for an unknown exchange);
    `route` is the message's whole route when `exchange` is one it crossed on the way."""
    entry = table.exchange(exchange)
    if entry is None:
        raise KeyError(f"unknown exchange {exchange!r}")
    result = table.route(exchange, key, headers) if route is None else route
    taken = result.taken_on(exchange)
    verdicts = tuple(
        BindingVerdict(b, b in taken, explain_binding(entry.type, b, key, headers))
        for b in table.bindings_from(exchange)
    )
    return ExchangeExplanation(exchange, entry.type, verdicts, result)


def explain_route(
    table: BindingTable, exchange: str, key: str, headers: Mapping[str, Any] | None
) -> tuple[ExchangeExplanation, ...]:
    """Every exchange the message crosses, in the order the router reached them (`exchange` first,
    then exchange-to-exchange destinations and alternates), each with its bindings judged: the
    path a message takes through exchange bindings, explained hop by hop."""
    route = table.route(exchange, key, headers)
    return tuple(explain_exchange(table, name, key, headers, route) for name in route.exchanges)


@dataclass(frozen=True)
class FoldedVerdicts:
    """The verdicts a lens window of a few rows shows, and the rest it folds into one line."""

    shown: tuple[BindingVerdict, ...]
    folded: tuple[BindingVerdict, ...]
    """None of these match (matches are never folded)."""

    def folded_count(self, kind: str) -> int:
        """How many different destinations of `kind` ("queue" or "exchange") the folded bindings lead to."""
        return len({v.binding.destination for v in self.folded if v.binding.destination_kind == kind})


def fold_verdicts(verdicts: tuple[BindingVerdict, ...], rows: int) -> FoldedVerdicts:
    """Fit `verdicts` in `rows` lines: all of them in table order (the diagram's order) when they fit;
    else every match first (even past `rows`: the window scrolls, but a match is what the user looks
    for), then as many non-matches as leave one row for the fold line, and the rest folded."""
    if len(verdicts) <= rows:
        return FoldedVerdicts(verdicts, ())
    matched = tuple(v for v in verdicts if v.matched)
    rest = tuple(v for v in verdicts if not v.matched)
    keep = max(0, rows - 1 - len(matched))
    return FoldedVerdicts(matched + rest[:keep], rest[keep:])
