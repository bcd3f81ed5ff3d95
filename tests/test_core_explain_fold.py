"""Folding the lens's verdicts into a few rows: matches first and never folded, the rest counted."""

from __future__ import annotations

from core.explain import BindingVerdict, explain_exchange, fold_verdicts
from core.topology import BindingSpec, ExchangeSpec, QueueSpec, Topology


def topology(queues: int) -> Topology:
    """`queues` queues on topic exchange `ex` (q00 <- k0.#, ...), and exchange `sink` bound to `ex`."""
    return Topology(
        (
            ExchangeSpec("ex", "topic"),
            ExchangeSpec("sink", "fanout", bindings=(BindingSpec("ex", "other.#"),)),
        ),
        tuple(QueueSpec(f"q{i:02d}", (BindingSpec("ex", f"k{i}.#"),)) for i in range(queues)),
    ).validate()


def verdicts(queues: int, key: str) -> tuple[BindingVerdict, ...]:
    return explain_exchange(topology(queues).binding_table, "ex", key, None).verdicts


def destinations(shown: tuple[BindingVerdict, ...]) -> list[str]:
    return [v.binding.destination for v in shown]


def test_verdicts_that_fit_stay_in_table_order_unfolded() -> None:
    all_ = verdicts(4, "k3.a")
    folded = fold_verdicts(all_, 5)
    assert folded.shown == all_ and folded.folded == ()
    assert destinations(folded.shown)[3] == "q03"  # the match keeps its place, as in the diagram


def test_a_match_deep_in_a_long_table_comes_first_and_the_rest_fold() -> None:
    all_ = verdicts(40, "k35.a")
    folded = fold_verdicts(all_, 8)
    assert destinations(folded.shown) == ["q35", "q00", "q01", "q02", "q03", "q04", "q05"]
    assert [v.matched for v in folded.shown] == [True] + [False] * 6
    assert len(folded.shown) + 1 == 8  # one row left for the fold line
    assert not any(v.matched for v in folded.folded)
    assert len(folded.shown) + len(folded.folded) == len(all_)  # nothing lost
    assert folded.folded_count("queue") == 40 - 7
    assert folded.folded_count("exchange") == 1  # sink, bound last


def test_matches_are_never_folded_even_past_the_budget() -> None:
    many = Topology(
        (ExchangeSpec("ex", "topic"),),
        tuple(QueueSpec(f"q{i:02d}", (BindingSpec("ex", "#" if i % 2 else f"k{i}"),)) for i in range(30)),
    ).validate()
    all_ = explain_exchange(many.binding_table, "ex", "anything", None).verdicts
    folded = fold_verdicts(all_, 6)
    assert [v.matched for v in folded.shown] == [True] * 15
    assert folded.folded_count("queue") == 15


def test_a_queue_with_two_folded_bindings_counts_once() -> None:
    twice = Topology(
        (ExchangeSpec("ex", "topic"),),
        (
            QueueSpec("hit", (BindingSpec("ex", "a"),)),
            *(QueueSpec(f"q{i}", (BindingSpec("ex", f"x{i}"), BindingSpec("ex", f"y{i}"))) for i in range(5)),
        ),
    ).validate()
    folded = fold_verdicts(explain_exchange(twice.binding_table, "ex", "a", None).verdicts, 3)
    assert destinations(folded.shown)[0] == "hit"
    assert len(folded.folded) == 9 and folded.folded_count("queue") == 5
