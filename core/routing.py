"""AMQP 0-9-1 routing (direct, fanout, topic, headers) with RabbitMQ's semantics, plus explanations.

Topic keys are split on "." exactly as RabbitMQ does: "" is zero words, "a..b" has an empty middle
word, and "*" / "#" are wildcards only as whole words ("*a" is a literal word).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol


class _Binding(Protocol):
    @property
    def exchange(self) -> str: ...
    @property
    def routing_key(self) -> str: ...
    @property
    def arguments(self) -> Mapping[str, Any]: ...


class _Queue(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def bindings(self) -> Iterable[_Binding]: ...


class _Exchange(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def alternate_exchange(self) -> str | None: ...


class Routable(Protocol):
    """What route() reads of a topology (core.topology.Topology is one). A protocol, not an import:
    core.topology validates keys with this module, so importing it back would be a cycle."""

    @property
    def queues(self) -> Iterable[_Queue]: ...
    def queue(self, name: str) -> object | None: ...
    def exchange(self, name: str) -> _Exchange | None: ...

MAX_NAME_BYTES = 255
MAX_HASH_WORDS_CURRENT = 2  # RabbitMQ main refuses more; released versions accept them.


def split_words(key: str) -> tuple[str, ...]:
    """Split a topic routing/binding key into words; the empty key has zero words (as RabbitMQ)."""
    if key == "":
        return ()
    return tuple(key.split("."))


@lru_cache(maxsize=8192)
def topic_matches(pattern: str, key: str) -> bool:
    """True when binding `pattern` matches routing `key` under RabbitMQ topic semantics."""
    return _match_words(split_words(pattern), split_words(key))


def _match_words(pattern: Sequence[str], key: Sequence[str]) -> bool:
    # Iterative matcher with one backtrack point per '#', linear-ish on real keys.
    p = k = 0
    star_p = -1
    star_k = 0
    while k < len(key):
        if p < len(pattern) and pattern[p] == "#":
            star_p, star_k = p, k
            p += 1
        elif p < len(pattern) and (pattern[p] == "*" or pattern[p] == key[k]):
            p += 1
            k += 1
        elif star_p >= 0:
            star_k += 1
            k = star_k
            p = star_p + 1
        else:
            return False
    while p < len(pattern) and pattern[p] == "#":
        p += 1
    return p == len(pattern)


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


def headers_match(arguments: Mapping[str, Any], headers: Mapping[str, Any] | None) -> bool:
    """RabbitMQ headers exchange: x-match all (default) / any, and the *-with-x variants."""
    headers = headers or {}
    mode = str(arguments.get("x-match", "all"))
    keep_x = mode.endswith("-with-x")
    wanted = {
        name: value
        for name, value in arguments.items()
        if name != "x-match" and (keep_x or not name.startswith("x-"))
    }
    if not wanted:
        return mode.startswith("all")

    def one(name: str, value: Any) -> bool:
        if name not in headers:
            return False
        return value is None or bool(headers[name] == value)

    if mode.startswith("any"):
        return any(one(n, v) for n, v in wanted.items())
    return all(one(n, v) for n, v in wanted.items())


def binding_matches(
    exchange_type: str,
    binding_key: str,
    binding_arguments: Mapping[str, Any] | None,
    routing_key: str,
    headers: Mapping[str, Any] | None,
) -> bool:
    """Does one binding of an exchange of `exchange_type` accept this message?"""
    if exchange_type == "fanout":
        return True
    if exchange_type == "direct":
        return binding_key == routing_key
    if exchange_type == "topic":
        return topic_matches(binding_key, routing_key)
    if exchange_type == "headers":
        return headers_match(binding_arguments or {}, headers)
    raise ValueError(f"unknown exchange type {exchange_type!r}")


def binding_key_problem(binding_key: str) -> str | None:
    """Why RabbitMQ would refuse this topic binding key, or None when it is acceptable."""
    if len(binding_key.encode("utf-8")) > MAX_NAME_BYTES:
        return f"binding key is {len(binding_key.encode('utf-8'))} bytes; the limit is 255"
    return None


def binding_key_warning(binding_key: str) -> str | None:
    """A note for keys released RabbitMQ accepts but its main branch refuses (more than two '#')."""
    hashes = sum(1 for w in split_words(binding_key) if w == "#")
    if hashes > MAX_HASH_WORDS_CURRENT:
        return (
            f"{hashes} '#' words: accepted by released RabbitMQ (3.x, 4.x), "
            f"refused by its newest main branch (limit {MAX_HASH_WORDS_CURRENT})"
        )
    return None


def routing_key_problem(routing_key: str) -> str | None:
    """Why a routing key cannot be published (AMQP shortstr: at most 255 bytes), or None."""
    size = len(routing_key.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        return f"routing key is {size} bytes; AMQP allows at most 255"
    return None


@dataclass(frozen=True)
class RouteResult:
    """Where a message goes: the matched bindings (queue, binding key) and the sorted queues."""

    exchange: str
    routing_key: str
    matched: tuple[tuple[str, str], ...]
    queues: tuple[str, ...]
    via_alternate: str | None = None


def route(
    topology: Routable,
    exchange: str,
    routing_key: str,
    headers: Mapping[str, Any] | None = None,
    _seen: frozenset[str] = frozenset(),
) -> RouteResult:
    """Route like RabbitMQ: the exchange's bindings, then its alternate exchange when nothing matched.

    The default exchange ("") routes to the queue named by the routing key. A loop of alternate
    exchanges stops where it would revisit one (RabbitMQ does the same).
    """
    if exchange == "":
        queue = topology.queue(routing_key)
        found = ((routing_key, routing_key),) if queue is not None else ()
        return RouteResult(exchange, routing_key, found, tuple(q for q, _ in found))
    spec = topology.exchange(exchange)
    if spec is None:
        raise KeyError(f"unknown exchange {exchange!r}")
    matched = tuple(
        (queue.name, binding.routing_key)
        for queue in topology.queues
        for binding in queue.bindings
        if binding.exchange == exchange
        and binding_matches(spec.type, binding.routing_key, binding.arguments, routing_key, headers)
    )
    if not matched and spec.alternate_exchange and spec.alternate_exchange not in _seen:
        via = route(topology, spec.alternate_exchange, routing_key, headers, _seen | {exchange})
        return RouteResult(exchange, routing_key, via.matched, via.queues, spec.alternate_exchange)
    return RouteResult(exchange, routing_key, matched, tuple(sorted({q for q, _ in matched})))
