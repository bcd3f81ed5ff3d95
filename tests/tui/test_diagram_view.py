"""The diagram's view of a big topology, without an app: the name filter (substring, glob, bad glob),
what a filter and a focus keep, folding idle queues, and the watch that unfolds a queue on traffic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from core.events import Acked, Delivered, Published, QueueDepth, Routed
from core.ledger import Ledger
from core.scenario import load_scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from tui.editing.selection import Selection
from tui.widgets.diagram_layout import compute_layout
from tui.widgets.diagram_scope import IDLE_SECONDS, Scope
from tui.widgets.diagram_view import FilterError, exchange_of, name_matcher, reach, view_of
from tui.widgets.filter_bar import scope_words

BIG = load_scenario(str(Path(__file__).parents[1] / "data" / "big_vhost.toml")).topology


def names(topology: Topology) -> tuple[set[str], set[str], set[str]]:
    return (
        {e.name for e in topology.exchanges},
        {q.name for q in topology.queues},
        {c.name for c in topology.consumers},
    )


def test_the_big_vhost_is_as_big_as_its_script_says() -> None:
    assert (len(BIG.exchanges), len(BIG.queues), len(BIG.consumers)) == (30, 200, 4)
    assert {e.type for e in BIG.exchanges} == {"topic", "direct", "fanout", "headers"}
    assert BIG.problems() == []


@pytest.mark.parametrize(
    ("text", "name", "hit"),
    [
        ("orders", "retry.orders", True),  # a substring anywhere
        ("ORDERS", "orders.created.email", True),  # case does not matter
        ("orders", "billing.created.crm", False),
        ("orders.*", "orders.created.email", True),  # a glob is over the whole name
        ("orders.*", "retry.orders", False),
        ("*.crm", "billing.failed.crm", True),
        ("*.CR?", "billing.failed.crm", True),
        ("[ab]*", "audit.all", True),
        ("[!ab]*", "audit.all", False),
    ],
)
def test_the_filter_is_a_substring_or_a_whole_name_glob(text: str, name: str, hit: bool) -> None:
    matcher = name_matcher(text)
    assert matcher is not None and matcher(name) is hit


def test_blank_text_is_no_filter_and_a_bad_glob_says_why_in_one_line() -> None:
    assert name_matcher("  ") is None
    with pytest.raises(FilterError, match=r"unclosed \[ at character 8"):
        name_matcher("orders.[ab")
    with pytest.raises(FilterError, match="the range z-a is empty"):
        name_matcher("[z-a]*")
    assert name_matcher("[]]x") is not None  # a ] first in the set is one of its members


def test_a_matching_queue_brings_the_exchanges_that_route_to_it_and_its_consumers() -> None:
    matcher = name_matcher("orders.created.email")
    exchanges, queues, consumers = names(view_of(BIG, matcher).topology)
    assert queues == {"orders.created.email"}
    assert exchanges == {"orders.events"}
    assert consumers == {"order-service"}


def test_a_queue_behind_an_exchange_to_exchange_binding_brings_the_source_too() -> None:
    exchanges, queues, _ = names(view_of(BIG, name_matcher("legacy.orders")).topology)
    assert queues == {"legacy.orders"} and exchanges == {"legacy.bridge", "orders.events"}


def test_a_matching_exchange_brings_what_it_reaches() -> None:
    view = view_of(BIG, name_matcher("billing.events"))
    exchanges, queues, _ = names(view.topology)
    billing = {q.name for q in BIG.queues if q.name.startswith("billing.") and q.name != "billing.commands"}
    assert queues == billing | {"dead.letters"}  # its .crm queues dead-letter to dlx, bound to dead.letters
    assert exchanges == {"billing.events", "dlx"}
    assert view.shown_queues == len(queues) and view.total_queues == 200


def test_focus_keeps_what_the_exchange_reaches_and_a_filter_narrows_it() -> None:
    focused = reach(BIG, ["orders.events"])
    assert "legacy.orders" in focused.queues and "legacy.bridge" in focused.exchanges
    assert "billing.created.crm" not in focused.queues
    exchanges, queues, _ = names(view_of(BIG, name_matcher("*.crm"), focus="orders.events").topology)
    assert queues == {q for q in focused.queues if q.endswith(".crm")} and exchanges == {"orders.events"}


def test_a_view_keeps_each_queue_spec_whole_so_binding_indices_still_name_the_same_binding() -> None:
    view = view_of(BIG, name_matcher("orders.created.email"))
    assert view.topology.queues[0] is BIG.queue("orders.created.email")


def tiny() -> Topology:
    return Topology(
        exchanges=(ExchangeSpec("ex", "topic"), ExchangeSpec("fan", "fanout")),
        queues=(
            QueueSpec("a", (BindingSpec("ex", "a.#"),)),
            QueueSpec("b", (BindingSpec("ex", "b.#"),)),
            QueueSpec("c", (BindingSpec("ex", "c.#"),)),
            QueueSpec("d", (BindingSpec("fan"),)),
        ),
        consumers=(ConsumerSpec("w", ("a", "d")),),
    )


def test_idle_queues_fold_into_one_box_per_exchange_where_the_first_of_them_stood() -> None:
    topology = tiny()
    view = view_of(topology, idle=frozenset({"b", "c", "d"}))
    fold = next(iter(view.folds.values()))
    assert [q.name for q in view.topology.queues] == ["a", fold.key, "d"]  # d is alone on fan: kept
    assert fold.queues == ("b", "c") and fold.exchange == "ex" and fold.title == "+2 idle"
    layout = compute_layout(view.topology, 120, 40)
    assert fold.key in layout.queues and ("route", "ex", fold.key) in layout.wires


def test_a_fold_never_takes_a_real_queue_name() -> None:
    topology = tiny()
    clash = Topology(
        exchanges=topology.exchanges,
        queues=(*topology.queues, QueueSpec("+2 idle · ex")),
        consumers=topology.consumers,
    )
    view = view_of(clash, idle=frozenset({"b", "c"}))
    assert set(view.folds) == {"+2 idle · ex'"}


def test_the_scope_folds_quiet_queues_and_unfolds_one_that_gets_traffic() -> None:
    topology = tiny()
    ledger = Ledger(topology)
    scope = Scope()
    scope.saw([Routed(msg="m1", exchange="ex", routing_key="a.x", queues=("a",))], now=0.0)
    ledger.feed_all(
        [
            Published(msg="m1", exchange="ex", routing_key="a.x"),
            Routed(msg="m1", exchange="ex", routing_key="a.x", queues=("a",)),
            Delivered(msg="m1", queue="a", consumer="w"),
            Acked(msg="m1", queue="a", consumer="w"),
            QueueDepth(queue="c", ready=2, unacked=0),
        ]
    )
    assert scope.idle(ledger, now=1.0) == {"b", "d"}  # a had traffic, c holds messages
    assert scope.idle(ledger, now=IDLE_SECONDS + 1) == {"a", "b", "d"}
    ledger.feed(QueueDepth(queue="c", ready=0, unacked=0))
    scope.fold(ledger, now=IDLE_SECONDS + 1)
    assert [f.queues for f in scope.view(topology).folds.values()] == [("a", "b", "c")]
    assert not scope.saw([Delivered(msg="m2", queue="d", consumer="w")], now=40.0)  # d was not folded
    assert scope.saw([Acked(msg="m1", queue="b", consumer="w")], now=41.0)
    assert [f.queues for f in scope.view(topology).folds.values()] == [("a", "c")]


def test_the_scope_keeps_the_last_good_filter_while_a_glob_is_bad_and_says_so() -> None:
    scope = Scope()
    assert scope.set_filter("orders")
    assert not scope.set_filter("orders[")
    facts = scope.facts(BIG)
    assert facts.filter == "orders" and facts.error is not None and "unclosed [" in facts.error
    assert scope_words(facts) == f"filter: orders ({facts.shown_queues} of 200 queues)"
    assert facts.shown_queues == len(
        {q.name for q in BIG.queues if "orders" in q.name}
        | reach(BIG, ["orders.events", "orders.commands"]).queues
    )


def test_a_deleted_focus_lets_go() -> None:
    scope = Scope()
    scope.set_focus("gone")
    assert scope.view(BIG).topology is BIG and scope.focus is None


@pytest.mark.parametrize(
    ("selection", "exchange"),
    [
        (Selection("exchange", "audit"), "audit"),
        (Selection("binding", "audit.all", "audit", 0), "audit"),
        (Selection("queue", "orders.created.email"), "orders.events"),
        (Selection("consumer", "billing-worker"), "billing.events"),
        (Selection("queue", "no such queue"), None),
        (None, None),
    ],
)
def test_f_focuses_the_exchange_a_selection_means(selection: Selection | None, exchange: str | None) -> None:
    assert exchange_of(BIG, selection) == exchange


def test_the_keys_toggle_focus_and_fold_and_esc_widens_focus_first_then_the_filter() -> None:
    scope = Scope()
    assert scope.toggle_focus(BIG, None) == "select an exchange (or a queue) to focus on"
    assert scope.toggle_focus(BIG, Selection("queue", "audit.all")) is None and scope.focus == "audit"
    scope.set_filter("all")
    assert names(scope.view(BIG).topology)[1] == {"audit.all"}
    assert scope.widen() and scope.focus is None and scope.filter_text == "all"
    assert scope.widen() and scope.filter_text == "" and scope.view(BIG).topology is BIG
    assert not scope.widen()  # nothing left to widen: Esc belongs to someone else
    ledger = Ledger(BIG)
    assert scope.toggle_fold(ledger, now=0.0) is None and scope.folding
    per_exchange = Counter(q.bindings[0].exchange for q in BIG.queues)
    crowded = {exchange for exchange, count in per_exchange.items() if count >= 2}
    assert {f.exchange for f in scope.view(BIG).folds.values()} == crowded
    fold = next(iter(scope.view(BIG).folds.values()))
    assert scope.toggle_focus(BIG, Selection("queue", fold.key)) is None and scope.focus == fold.exchange
    scope.set_focus(None)
    assert scope.toggle_fold(ledger, now=0.0) is None and scope.view(BIG).topology is BIG
    lone = Topology(exchanges=(ExchangeSpec("ex"),), queues=(QueueSpec("q", (BindingSpec("ex", "#"),)),))
    assert (
        Scope().toggle_fold(Ledger(lone), now=0.0) == "no idle queues to fold (two or more on one exchange)"
    )


def test_a_fold_says_what_it_holds() -> None:
    view = view_of(BIG, idle=frozenset(q.name for q in BIG.queues))
    fold = next(f for f in view.folds.values() if f.exchange == "orders.events")
    assert fold.describe(most=2) == (
        "20 idle queues bound to orders.events (i unfolds): "
        "orders.created.email, orders.created.analytics, and 18 more"
    )


def test_the_watch_forgets_queues_that_are_deleted() -> None:
    topology = tiny()
    scope = Scope()
    scope.view(topology)
    scope.saw([Routed(msg="m", exchange="ex", routing_key="b.x", queues=("b",))], now=0.0)
    smaller = Topology(exchanges=topology.exchanges, queues=topology.queues[:1], consumers=())
    scope.view(smaller)
    assert scope.idle(Ledger(topology), now=1.0) == {"a", "b", "c", "d"}  # b's traffic was forgotten
