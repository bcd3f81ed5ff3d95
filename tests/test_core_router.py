"""The one router (core.routing.BindingTable): agrees with independent references on random tables,
follows exchange-to-exchange bindings and alternate exchanges as RabbitMQ does, and stays right as
bindings, queues and exchanges come and go."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.explain import TopicExplanation, explain_exchange
from core.routing import Binding, BindingTable, ExchangeEntry


def _regex_topic(pattern: str, key: str) -> bool:
    """Topic matching written as a regex over ".word" pieces, independently of core.routing."""
    pieces = []
    for word in pattern.split(".") if pattern else []:
        if word == "#":
            pieces.append(r"(?:\.[^.]*)*")
        elif word == "*":
            pieces.append(r"\.[^.]*")
        else:
            pieces.append(r"\." + re.escape(word))
    subject = "".join("." + word for word in key.split(".")) if key else ""
    return re.fullmatch("".join(pieces), subject) is not None


WORDS = ["a", "b", "", "*", "#", "*a", "a#"]
topic_keys = st.lists(st.sampled_from(WORDS), max_size=6).map(".".join)
routing_keys = st.lists(st.sampled_from(["a", "b", "", "*", "#"]), max_size=6).map(".".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(topic_keys, st.integers(0, 4)), max_size=8), routing_keys)
def test_topic_routes_agree_with_a_regex_reference(bindings: list[tuple[str, int]], key: str) -> None:
    queues = [f"q{n}" for n in range(5)]
    table = BindingTable(
        {"t": ExchangeEntry("topic")},
        queues,
        [Binding("t", f"q{n}", "queue", pattern) for pattern, n in bindings],
    )
    expected = sorted({f"q{n}" for pattern, n in bindings if _regex_topic(pattern, key)})
    assert list(table.route("t", key).queues) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(topic_keys, st.integers(0, 4)), max_size=8), routing_keys)
def test_the_lens_verdicts_are_the_routers_and_their_reasons_agree(
    bindings: list[tuple[str, int]], key: str
) -> None:
    table = BindingTable(
        {"t": ExchangeEntry("topic")},
        [f"q{n}" for n in range(5)],
        [Binding("t", f"q{n}", "queue", pattern) for pattern, n in bindings],
    )
    explained = explain_exchange(table, "t", key, None)
    taken = {v.binding.destination for v in explained.verdicts if v.matched}
    assert sorted(taken) == list(table.route("t", key).queues)
    for verdict in explained.verdicts:
        assert isinstance(verdict.why, TopicExplanation)
        assert verdict.why.matched is verdict.matched


EXCHANGES = ["x0", "x1", "x2", "x3"]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[dict[str, ExchangeEntry], list[Binding]]:
    """Exchanges of random types with random alternates, bound to queues and to each other (loops too)."""
    entries = {
        name: ExchangeEntry(
            draw(st.sampled_from(["direct", "fanout", "topic"])),
            draw(st.sampled_from([None, *EXCHANGES, "missing"])),
        )
        for name in EXCHANGES
    }
    bindings = draw(
        st.lists(
            st.builds(
                Binding,
                st.sampled_from(EXCHANGES),
                st.sampled_from(["q0", "q1", "q2", *EXCHANGES]),
                st.just("queue"),
                topic_keys,
            ),
            max_size=12,
        )
    )
    typed = [
        Binding(b.source, b.destination, "exchange" if b.destination in EXCHANGES else "queue", b.routing_key)
        for b in bindings
    ]
    return entries, typed


def _reference_route(
    entries: dict[str, ExchangeEntry], bindings: list[Binding], start: str, key: str
) -> tuple[set[str], set[str]]:
    """(queues, exchanges reached) as a fixpoint: an exchange reached passes the message along each
    binding that accepts it, and to its alternate when none does."""

    def accepts(kind: str, binding: Binding) -> bool:
        if kind == "fanout":
            return True
        if kind == "direct":
            return binding.routing_key == key
        return _regex_topic(binding.routing_key, key)

    reached, queues = {start}, set()
    changed = True
    while changed:
        changed = False
        for name in list(reached):
            taken = [b for b in bindings if b.source == name and accepts(entries[name].type, b)]
            onward = {b.destination for b in taken if b.destination_kind == "exchange"}
            queues |= {b.destination for b in taken if b.destination_kind == "queue"}
            alternate = entries[name].alternate
            if not taken and alternate is not None:
                onward.add(alternate)
            new = (onward & entries.keys()) - reached
            if new:
                reached |= new
                changed = True
    return queues, reached


@settings(max_examples=400, deadline=None)
@given(graphs(), st.sampled_from(EXCHANGES), routing_keys)
def test_exchange_bindings_and_alternates_agree_with_a_fixpoint_reference(
    graph: tuple[dict[str, ExchangeEntry], list[Binding]], start: str, key: str
) -> None:
    entries, bindings = graph
    table = BindingTable(entries, ["q0", "q1", "q2"], bindings)
    result = table.route(start, key)
    queues, reached = _reference_route(entries, bindings, start, key)
    assert set(result.queues) == queues
    assert set(result.exchanges) == reached
    assert len(result.exchanges) == len(set(result.exchanges))  # each exchange crossed once
    assert result.exchanges[0] == start


def _table(*bindings: Binding, alternates: dict[str, str] | None = None) -> BindingTable:
    kinds = {"direct": "direct", "fan": "fanout", "topic": "topic", "lost": "fanout", "h": "headers"}
    entries = {n: ExchangeEntry(t, (alternates or {}).get(n)) for n, t in kinds.items()}
    return BindingTable(entries, ["q1", "q2", "lost_q"], bindings)


def test_an_exchange_binding_carries_the_message_on_with_the_same_key() -> None:
    table = _table(
        Binding("direct", "topic", "exchange", "kern.disk"),
        Binding("topic", "q1", "queue", "kern.*"),
        Binding("topic", "q2", "queue", "*.cpu"),
    )
    result = table.route("direct", "kern.disk")
    assert result.queues == ("q1",)
    assert result.exchanges == ("direct", "topic")
    assert [(b.source, b.destination) for b in result.bindings] == [("direct", "topic"), ("topic", "q1")]
    assert result.unmatched == () and result.alternates == ()


def test_the_alternate_is_used_only_when_the_exchanges_own_bindings_take_nothing() -> None:
    """An exchange binding that matched counts as a route, even if nothing downstream takes it."""
    table = _table(
        Binding("direct", "topic", "exchange", "k"),
        Binding("lost", "lost_q", "queue", ""),
        alternates={"direct": "lost"},
    )
    through = table.route("direct", "k")
    assert through.queues == () and through.alternates == () and through.unmatched == ("topic",)
    missed = table.route("direct", "other")
    assert missed.queues == ("lost_q",) and missed.alternates == ("lost",) and missed.via_alternate == "lost"
    assert missed.unmatched == ("direct",)


def test_loops_of_bindings_and_alternates_end() -> None:
    table = _table(
        Binding("fan", "topic", "exchange", ""),
        Binding("topic", "fan", "exchange", "#"),
        Binding("topic", "q1", "queue", "a"),
        alternates={"direct": "fan", "fan": "direct"},
    )
    assert table.route("fan", "a").queues == ("q1",)
    assert table.route("direct", "b").exchanges == ("direct", "fan", "topic")


def test_a_missing_alternate_or_exchange_destination_is_skipped_and_an_unknown_start_refused() -> None:
    table = _table(Binding("fan", "gone", "exchange", ""), alternates={"direct": "gone"})
    assert table.route("direct", "k").exchanges == ("direct",)
    assert table.route("fan", "k").queues == ()
    with pytest.raises(KeyError):
        table.route("gone", "k")


def test_the_default_exchange_routes_to_the_queue_named_by_the_key() -> None:
    table = _table()
    assert table.route("", "q1").queues == ("q1",)
    assert table.route("", "nope").queues == ()
    assert table.without_queue("q1").route("", "q1").queues == ()


def test_routes_are_remembered_per_table_but_never_across_headers() -> None:
    table = _table(Binding("h", "q1", "queue", "", {"x-match": "any", "format": "pdf"}))
    assert table.route("h", "", {"format": "pdf"}).queues == ("q1",)
    assert table.route("h", "", {"format": "txt"}).queues == ()
    plain = _table(Binding("topic", "q1", "queue", "a.#"))
    first = plain.route("topic", "a.b")
    assert plain.route("topic", "a.b") is first  # cached
    rebound = plain.with_binding(Binding("topic", "q2", "queue", "*.b"))
    assert rebound.route("topic", "a.b").queues == ("q1", "q2")
    assert plain.route("topic", "a.b").queues == ("q1",)  # the old table is unchanged


def test_bind_unbind_and_delete_change_the_routes() -> None:
    args: dict[str, Any] = {"x-tag": 1}
    table = _table(Binding("topic", "q1", "queue", "a.*"), Binding("topic", "q1", "queue", "a.*", args))
    assert len(table.bindings_from("topic")) == 2  # other arguments: another binding
    assert table.with_binding(Binding("topic", "q1", "queue", "a.*")) is table  # bound twice: once
    once = table.without_binding(Binding("topic", "q1", "queue", "a.*"))
    assert once.route("topic", "a.b").queues == ("q1",)  # the one with arguments is still there
    none = once.without_binding(Binding("topic", "q1", "queue", "a.*", args))
    assert none.route("topic", "a.b").queues == ()
    chained = _table(Binding("fan", "topic", "exchange", ""), Binding("topic", "q2", "queue", "#"))
    assert chained.route("fan", "x").queues == ("q2",)
    without = chained.without_exchange("topic")
    assert list(without) == []  # its own bindings and the one leading to it are gone
    assert without.with_exchange("topic", ExchangeEntry("topic")).route("fan", "x").queues == ()
    assert list(chained.without_queue("q2")) == [Binding("fan", "topic", "exchange", "")]
