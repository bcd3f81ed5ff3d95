"""Scenario files with exchange-to-exchange bindings, consumer x-priority and queue
x-single-active-consumer: parsed, checked in one line, folded as topology changes, run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.backends import backend_for
from core.backends.memory import MemoryBackend
from core.exporters import to_definitions, to_toml
from core.scenario import ScenarioError, parse_scenario
from core.topology import ExchangeSpec
from core.topology_changes import apply_change, change_problem, declarations, delete, exchange_binding

ROOT = Path(__file__).resolve().parents[1]
LINKED = """
[[exchanges]]
name = "upstream"
type = "topic"

[[exchanges]]
name = "downstream"
type = "topic"
bindings = [{ exchange = "upstream", routing_key = "a.#" }, { exchange = "upstream", routing_key = "*.b" }]

[[queues]]
name = "q_down"
bindings = [{ exchange = "downstream", routing_key = "#" }, { exchange = "upstream", routing_key = "a.b" }]
arguments = { "x-single-active-consumer" = true }

[[consumers]]
name = "first"
queues = ["q_down"]
arguments = { "x-priority" = 5 }

[[consumers]]
name = "second"
queues = ["q_down"]
"""


def test_exchange_bindings_consumer_and_queue_arguments_parse() -> None:
    topology = parse_scenario(LINKED, "linked.toml").topology
    downstream = topology.exchange("downstream")
    assert downstream is not None
    assert [(b.exchange, b.routing_key) for b in downstream.bindings] == [
        ("upstream", "a.#"),
        ("upstream", "*.b"),
    ]
    queue = topology.queue("q_down")
    assert queue is not None and queue.queue_arguments() == {"x-single-active-consumer": True}
    assert [dict(c.arguments) for c in topology.consumers] == [{"x-priority": 5}, {}]


def test_the_router_follows_exchange_bindings_and_gives_each_queue_one_copy() -> None:
    table = parse_scenario(LINKED, "linked.toml").topology.binding_table
    route = table.route("upstream", "a.b")  # three paths to q_down: upstream, and downstream twice
    assert route.queues == ("q_down",)
    assert route.exchanges == ("upstream", "downstream")
    assert table.route("upstream", "c.c").queues == ()


@pytest.mark.parametrize(
    ("replace", "by", "problem"),
    [
        (
            'exchange = "upstream", routing_key = "a.#"',
            'exchange = "nope"',
            "exchange 'downstream' binding '': unknown exchange 'nope'",
        ),
        ('"x-priority" = 5', '"x-priority" = "high"', "consumer 'first': x-priority must be an integer"),
        ('"x-priority" = 5', '"x-priority" = 2147483648', "consumer 'first': x-priority must be an integer"),
        (
            '"x-priority" = 5',
            '"x-cancel-on-ha-failover" = true',
            "consumer argument 'x-cancel-on-ha-failover' is not modelled",
        ),
        (
            '"x-single-active-consumer" = true',
            '"x-single-active-consumer" = 1',
            "x-single-active-consumer must be true or false",
        ),
    ],
)
def test_mistakes_are_one_line_naming_the_entry(replace: str, by: str, problem: str) -> None:
    assert replace in LINKED
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(LINKED.replace(replace, by, 1), "linked.toml")
    assert problem in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("linked.toml: ")


def test_an_unmodelled_queue_argument_is_refused_on_mqscope_only() -> None:
    """x-queue-mode parses (RabbitMQ takes it as is); mqscope:// refuses it in one line (issue 13)."""
    topology = parse_scenario(
        LINKED.replace('"x-single-active-consumer" = true', '"x-queue-mode" = "lazy"', 1)
    ).topology
    problem = backend_for("mqscope://e2e").unsupported(topology)
    assert problem is not None and "does not model queue argument 'x-queue-mode'" in problem


def test_declared_in_an_order_a_broker_accepts_and_rebuilt_from_its_changes() -> None:
    topology = parse_scenario(LINKED, "linked.toml").topology
    changes = declarations(topology)
    e2e = [c for c in changes if c.kind == "binding" and c.fields()["destination_type"] == "exchange"]
    assert [c.fields()["routing_key"] for c in e2e] == ["a.#", "*.b"]
    assert changes.index(e2e[0]) > max(i for i, c in enumerate(changes) if c.kind in ("exchange", "queue"))
    consumer = next(c for c in changes if c.kind == "consumer")
    assert json.loads(json.dumps(consumer.fields()))["arguments"] == {"x-priority": 5}
    built = type(topology)(exchanges=(), queues=())
    for change in changes:
        assert change_problem(built, change) is None, change
        built = apply_change(built, change)
    assert built == topology


def test_exchange_binding_changes_fold_as_rabbitmq_keeps_them() -> None:
    topology = parse_scenario(LINKED, "linked.toml").topology
    unbound = apply_change(topology, delete(exchange_binding("upstream", "downstream", "a.#")))
    down = unbound.exchange("downstream")
    assert down is not None and [b.routing_key for b in down.bindings] == ["*.b"]
    assert change_problem(unbound, delete(exchange_binding("upstream", "downstream", "a.#"))) is not None
    # Deleting the source takes the exchange bindings from it too (both ends go, in RabbitMQ).
    gone = apply_change(topology, delete(ExchangeSpec("upstream")))
    down = gone.exchange("downstream")
    assert down is not None and down.bindings == ()
    problem = change_problem(topology, delete(exchange_binding("nope", "downstream")))
    assert problem is not None and "no such binding" in problem


def test_memory_transport_refuses_exchange_bindings_in_one_line() -> None:
    topology = parse_scenario(LINKED, "linked.toml").topology
    why = MemoryBackend("memory://").unsupported(topology)
    assert why is not None and "no exchange-to-exchange bindings" in why and "\n" not in why


def test_headless_run_through_exchange_bindings_settles(tmp_path: Path) -> None:
    path = tmp_path / "linked.toml"
    path.write_text(LINKED, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui",
            "--headless",
            "--json",
            "--scenario",
            str(path),
            "--no-script",
            "--publish",
            "a.b",
            "--publish",
            "x.b",
            "--publish",
            "c.c",
            "--timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    routed = [e["queues"] for e in events if e["event"] == "routed"]
    assert routed == [["q_down"], ["q_down"], []]
    by = {e["consumer"] for e in events if e["event"] == "delivered"}
    # Which of the two subscribes first is up to their threads; whichever it is gets everything.
    assert len(by) == 1 and by <= {"first", "second"}, f"single active consumer: one gets all, not {by}"


def test_exports_keep_exchange_bindings_and_arguments() -> None:
    """--export toml reads back to the same topology; definitions hold the exchange bindings."""
    scenario = parse_scenario(LINKED, "linked.toml")
    again = parse_scenario(to_toml(scenario), "again.toml")
    assert again.topology == scenario.topology
    bindings = json.loads(to_definitions(scenario.topology))["bindings"]
    e2e = [
        (b["source"], b["destination"], b["routing_key"])
        for b in bindings
        if b["destination_type"] == "exchange"
    ]
    assert e2e == [("upstream", "downstream", "a.#"), ("upstream", "downstream", "*.b")]
