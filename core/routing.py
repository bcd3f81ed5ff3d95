"""The one router: AMQP 0-9-1 routing with RabbitMQ's semantics, over a table of bindings.

Every "where does this message go" in mqscope is a `BindingTable.route` call: the in-process broker's
publishes and dead letters, the RabbitMQ backend's prediction, the lens and the canvas preview. The
word-by-word explanations (core.explain) sit on top and take their verdicts from here.

Topic keys are split on "." exactly as RabbitMQ does: "" is zero words, "a..b" has an empty middle
word, and "*" / "#" are wildcards only as whole words ("*a" is a literal word).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, NamedTuple

MAX_NAME_BYTES = 255
MAX_HASH_WORDS_CURRENT = 2  # RabbitMQ main refuses more; released versions accept them.
ROUTE_CACHE_SIZE = 1024
"""Routes remembered per table: enough for any scenario's keys; small, because keys unique per message
would otherwise keep thousands of results alive (and busy the garbage collector) for nothing."""

DestinationKind = Literal["queue", "exchange"]


# -- matching one binding --------------------------------------------------------------------------
def split_words(key: str) -> tuple[str, ...]:
    """Split a topic routing/binding key into words; the empty key has zero words (as RabbitMQ)."""
    if key == "":
        return ()
    return tuple(key.split("."))


def topic_matches(pattern: str, key: str) -> bool:
    """True when binding `pattern` matches routing `key` under RabbitMQ topic semantics."""
    return binding_matches("topic", pattern, None, key, None)


def _match_words(pattern: Sequence[str], key: Sequence[str]) -> bool:
    # Iterative matcher with one backtrack point per '#', linear-ish on real keys.
    p = k = 0
    star_p = -1
    star_k = 0
    plen, klen = len(pattern), len(key)
    while k < klen:
        word = pattern[p] if p < plen else None
        if word == "#":
            star_p, star_k = p, k
            p += 1
        elif word is not None and (word == "*" or word == key[k]):
            p += 1
            k += 1
        elif star_p >= 0:
            star_k += 1
            k = star_k
            p = star_p + 1
        else:
            return False
    while p < plen and pattern[p] == "#":
        p += 1
    return p == plen


def header_matches(name: str, value: Any, headers: Mapping[str, Any]) -> bool:
    """One header of a headers binding: present, and equal unless the binding's value is void."""
    return name in headers and (value is None or bool(headers[name] == value))


def headers_compared(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a headers binding that are compared with the message's headers: all but
    x-match, and no other x- argument unless the mode is all-with-x / any-with-x."""
    keep_x = str(arguments.get("x-match", "all")).endswith("-with-x")
    return {
        name: value
        for name, value in arguments.items()
        if name != "x-match" and (keep_x or not name.startswith("x-"))
    }


def headers_match(arguments: Mapping[str, Any], headers: Mapping[str, Any] | None) -> bool:
    """RabbitMQ headers exchange: x-match all (default) / any, and the *-with-x variants."""
    headers = headers or {}
    mode = str(arguments.get("x-match", "all"))
    wanted = headers_compared(arguments)
    if not wanted:
        return mode.startswith("all")
    if mode.startswith("any"):
        return any(header_matches(n, v, headers) for n, v in wanted.items())
    return all(header_matches(n, v, headers) for n, v in wanted.items())


_pattern_words = lru_cache(maxsize=8192)(split_words)
"""Binding keys are few and long-lived: split each once."""

BindingTest = Callable[[str, Mapping[str, Any]], bool]
"""Does a binding with this (binding key, arguments) accept the message the test was made for?"""


def binding_test(exchange_type: str, routing_key: str, headers: Mapping[str, Any] | None) -> BindingTest:
    """The test an exchange of `exchange_type` applies to each of its bindings for one message (the
    routing key is split once, however many bindings are tried)."""
    if exchange_type == "topic":
        words = split_words(routing_key)
        return lambda binding_key, _arguments: _match_words(_pattern_words(binding_key), words)
    if exchange_type == "direct":
        return lambda binding_key, _arguments: binding_key == routing_key
    if exchange_type == "fanout":
        return lambda _binding_key, _arguments: True
    if exchange_type == "headers":
        return lambda _binding_key, arguments: headers_match(arguments, headers)
    raise ValueError(f"unknown exchange type {exchange_type!r}")


def binding_matches(
    exchange_type: str,
    binding_key: str,
    binding_arguments: Mapping[str, Any] | None,
    routing_key: str,
    headers: Mapping[str, Any] | None,
) -> bool:
    """Does one binding of an exchange of `exchange_type` accept this message?"""
    return binding_test(exchange_type, routing_key, headers)(binding_key, binding_arguments or {})


# -- what RabbitMQ refuses ---------------------------------------------------------------------------
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


# -- the table -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Binding:
    """One binding: what exchange `source` accepts under `routing_key` / `arguments` goes on to
    `destination`, a queue or (exchange-to-exchange) another exchange. Equal fields, same binding:
    RabbitMQ keeps one of each."""

    source: str
    destination: str
    destination_kind: DestinationKind = "queue"
    routing_key: str = ""
    arguments: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ExchangeEntry:
    """What routing needs of an exchange: its type and its alternate exchange (None: none)."""

    type: str
    alternate: str | None = None


class RouteResult(NamedTuple):
    """Where one message goes, and why: the bindings that took it and the exchanges it crossed.

    A NamedTuple rather than a frozen dataclass: the broker makes one per publish on a route it has
    not seen, and a NamedTuple is built several times faster.
    """

    exchange: str
    routing_key: str
    queues: tuple[str, ...]
    """Every queue that gets a copy, sorted, each once; empty when unroutable."""
    bindings: tuple[Binding, ...] = ()
    """The bindings that took the message, exchange by exchange (the default exchange's implicit
    binding included)."""
    exchanges: tuple[str, ...] = ()
    """The exchanges it passed through, `exchange` first (then e2e destinations and alternates)."""
    alternates: tuple[str, ...] = ()
    """The alternate exchanges it was handed to because an exchange's bindings took nothing."""

    @property
    def via_alternate(self) -> str | None:
        """The first alternate exchange used, when the message reached a queue (what Routed says)."""
        return self.alternates[0] if self.alternates and self.queues else None

    def taken_on(self, exchange: str) -> tuple[Binding, ...]:
        """The bindings of `exchange` that took the message."""
        return tuple(b for b in self.bindings if b.source == exchange)

    @property
    def unmatched(self) -> tuple[str, ...]:
        """The exchanges it passed through whose bindings took nothing (dropped there, or handed on
        to their alternate exchange)."""
        sources = {b.source for b in self.bindings}
        return tuple(x for x in self.exchanges if x not in sources)


class BindingTable:
    """Exchanges (type, alternate), queues and bindings, as the router sees them; never changes.

    `with_*` / `without_*` return a new table, so whoever holds one (a thread routing a publish, the
    lens) keeps a consistent picture while topology changes, and each table can remember its routes:
    a route is cached by (exchange, routing key) unless it crossed a headers exchange.
    """

    __slots__ = ("_by_source", "_cache", "_exchanges", "_live_by_source", "_queues")

    def __init__(
        self,
        exchanges: Mapping[str, ExchangeEntry] | None = None,
        queues: Iterable[str] = (),
        bindings: Iterable[Binding] = (),
    ) -> None:
        by_source: dict[str, tuple[Binding, ...]] = {}
        for binding in bindings:
            known = by_source.get(binding.source, ())
            if binding not in known:
                by_source[binding.source] = (*known, binding)
        self._exchanges: dict[str, ExchangeEntry] = dict(exchanges or {})
        self._queues: frozenset[str] = frozenset(queues)
        self._by_source = by_source
        self._cache: dict[tuple[str, str], RouteResult] = {}
        self._live_by_source: dict[str, tuple[Binding, ...]] = {}

    def _derive(
        self,
        exchanges: dict[str, ExchangeEntry] | None = None,
        queues: frozenset[str] | None = None,
        by_source: dict[str, tuple[Binding, ...]] | None = None,
    ) -> BindingTable:
        table = BindingTable.__new__(BindingTable)
        table._exchanges = self._exchanges if exchanges is None else exchanges
        table._queues = self._queues if queues is None else queues
        table._by_source = self._by_source if by_source is None else by_source
        table._cache = {}
        table._live_by_source = {}
        return table

    # -- reading --------------------------------------------------------------------------------
    def exchange(self, name: str) -> ExchangeEntry | None:
        return self._exchanges.get(name)

    def has_queue(self, name: str) -> bool:
        return name in self._queues

    def bindings_from(self, source: str) -> tuple[Binding, ...]:
        """The bindings of exchange `source`, in the order they were made."""
        return self._by_source.get(source, ())

    def __iter__(self) -> Iterator[Binding]:
        """Every binding, exchange by exchange."""
        for bindings in self._by_source.values():
            yield from bindings

    # -- changing (each returns a new table) ------------------------------------------------------
    def with_exchange(self, name: str, entry: ExchangeEntry) -> BindingTable:
        """Declared (or redeclared): its bindings stay."""
        return self._derive(exchanges={**self._exchanges, name: entry})

    def without_exchange(self, name: str) -> BindingTable:
        """Deleted: its bindings go, and so do the bindings that led to it (as in RabbitMQ)."""
        exchanges = {n: e for n, e in self._exchanges.items() if n != name}
        return self._derive(exchanges=exchanges, by_source=self._dropping(name, "exchange"))

    def with_queue(self, name: str) -> BindingTable:
        return self._derive(queues=self._queues | {name})

    def without_queue(self, name: str) -> BindingTable:
        """Deleted: the bindings that led to it go with it."""
        return self._derive(queues=self._queues - {name}, by_source=self._dropping(name, "queue"))

    def with_binding(self, binding: Binding) -> BindingTable:
        """Bound (binding twice is binding once)."""
        known = self._by_source.get(binding.source, ())
        if binding in known:
            return self
        return self._derive(by_source={**self._by_source, binding.source: (*known, binding)})

    def without_binding(self, binding: Binding) -> BindingTable:
        """Unbound: only the binding with exactly these fields (arguments included) goes."""
        known = self._by_source.get(binding.source, ())
        if binding not in known:
            return self
        by_source = {**self._by_source, binding.source: tuple(b for b in known if b != binding)}
        return self._derive(by_source=by_source)

    def _dropping(self, name: str, kind: DestinationKind) -> dict[str, tuple[Binding, ...]]:
        """Bindings without those from exchange `name` (when kind is exchange) or leading to `name`."""
        kept: dict[str, tuple[Binding, ...]] = {}
        for source, bindings in self._by_source.items():
            if kind == "exchange" and source == name:
                continue
            rest = tuple(b for b in bindings if not (b.destination == name and b.destination_kind == kind))
            if rest:
                kept[source] = rest
        return kept

    # -- routing ----------------------------------------------------------------------------------
    def route(self, exchange: str, routing_key: str, headers: Mapping[str, Any] | None = None) -> RouteResult:
        """Route like RabbitMQ (rabbit_exchange:route): from `exchange`, every matching binding's
        destination; an exchange whose bindings took nothing hands the message to its alternate
        exchange; each exchange is crossed at most once, so loops of bindings or alternates end.

        The default exchange ("") routes to the queue named by the routing key, if it exists.
        Raises KeyError for an exchange the table does not know.
        """
        cached = self._cache.get((exchange, routing_key))
        if cached is not None:
            return cached
        result, keyed = self._walk(exchange, routing_key, headers)
        if keyed:
            if len(self._cache) >= ROUTE_CACHE_SIZE:
                self._cache.clear()
            self._cache[(exchange, routing_key)] = result
        return result

    def _walk(
        self, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> tuple[RouteResult, bool]:
        """The route, and whether it depends on the routing key alone (no headers exchange crossed)."""
        if exchange == "":
            if routing_key not in self._queues:
                return RouteResult("", routing_key, (), (), ("",)), True
            implicit = Binding("", routing_key, "queue", routing_key)
            return RouteResult("", routing_key, (routing_key,), (implicit,), ("",)), True
        if exchange not in self._exchanges:
            raise KeyError(f"unknown exchange {exchange!r}")
        keyed = True
        queues: set[str] = set()
        taken: list[Binding] = []
        alternates: list[str] = []
        crossed = [exchange]  # also the work list: exchanges are crossed in the order they are reached
        for name in crossed:  # grows while it is walked
            entry = self._exchanges[name]
            keyed = keyed and entry.type != "headers"
            accepts = binding_test(entry.type, routing_key, headers)
            hits = [b for b in self._live(name) if accepts(b.routing_key, b.arguments)]
            for binding in hits:
                if binding.destination_kind == "queue":
                    queues.add(binding.destination)
                elif binding.destination not in crossed:
                    crossed.append(binding.destination)
            taken += hits
            alternate = entry.alternate
            if (
                not hits
                and alternate is not None
                and alternate not in crossed
                and alternate in self._exchanges
            ):
                alternates.append(alternate)
                crossed.append(alternate)
        result = RouteResult(
            exchange, routing_key, tuple(sorted(queues)), tuple(taken), tuple(crossed), tuple(alternates)
        )
        return result, keyed

    def _live(self, source: str) -> tuple[Binding, ...]:
        """The bindings of `source` whose destination exists (RabbitMQ deletes the others with their
        queue or exchange); worked out once per table."""
        live = self._live_by_source.get(source)
        if live is None:
            live = tuple(
                b
                for b in self._by_source.get(source, ())
                if (
                    b.destination in self._queues
                    if b.destination_kind == "queue"
                    else b.destination in self._exchanges
                )
            )
            self._live_by_source[source] = live
        return live
