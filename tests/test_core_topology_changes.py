"""Topology changes: the pure fold, its one-line refusals, and their JSON form."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import TopologyChanged
from core.scenario import builtin_names, load_scenario
from core.topology import ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from core.topology_changes import (
    TopologyChange,
    apply_change,
    change_problem,
    declarations,
    declare,
    delete,
    queue_binding,
)

EMPTY = Topology(exchanges=(), queues=())


def build(changes: list[TopologyChange], start: Topology = EMPTY) -> Topology:
    topology = start
    for change in changes:
        assert change_problem(topology, change) is None, change
        topology = apply_change(topology, change)
    return topology


def test_every_builtin_scenario_is_rebuilt_from_its_declarations() -> None:
    for name in builtin_names():
        topology = load_scenario(name).topology
        assert build(declarations(topology)) == topology, name


def test_declarations_come_in_an_order_a_broker_accepts() -> None:
    kinds = [c.kind for c in declarations(load_scenario("seed").topology)]
    assert kinds == ["exchange", "queue", "queue", "binding", "binding", "consumer"]


def test_deleting_an_exchange_removes_its_bindings_as_rabbitmq_does() -> None:
    seed = load_scenario("seed").topology
    other = declare(ExchangeSpec("other", "fanout"))
    topology = build([other, declare(queue_binding("other", "video_queue"))], seed)
    after = apply_change(topology, delete(ExchangeSpec("other")))
    video = after.queue("video_queue")
    assert video is not None and [b.exchange for b in video.bindings] == ["media_exchange"]


def test_unbind_removes_only_that_binding() -> None:
    seed = load_scenario("seed").topology
    extra = declare(queue_binding("media_exchange", "audit_queue", "user.*"))
    topology = build([extra], seed)
    audit = topology.queue("audit_queue")
    assert audit is not None and [b.routing_key for b in audit.bindings] == ["#", "user.*"]
    after = build([delete(queue_binding("media_exchange", "audit_queue", "#"))], topology)
    audit = after.queue("audit_queue")
    assert audit is not None and [b.routing_key for b in audit.bindings] == ["user.*"]


def test_redeclaring_a_consumer_changes_it_in_place() -> None:
    seed = load_scenario("seed").topology
    faster = ConsumerSpec("worker", ("video_queue", "audit_queue"), prefetch=5)
    after = build([declare(faster)], seed)
    assert after.consumers == (faster,)


def test_refusals_are_one_line_and_name_the_entity() -> None:
    seed = load_scenario("seed").topology
    dead_letter = load_scenario("dead_letter").topology
    cases = {
        "exchange 'media_exchange': exists as a topic exchange; delete it first to change its type": (
            seed,
            declare(ExchangeSpec("media_exchange", "fanout")),
        ),
        "binding media_exchange -> nowhere ('a'): unknown queue 'nowhere'": (
            seed,
            declare(queue_binding("media_exchange", "nowhere", "a")),
        ),
        "binding nope -> video_queue ('a'): unknown exchange 'nope'": (
            seed,
            declare(queue_binding("nope", "video_queue", "a")),
        ),
        "binding media_exchange -> video_queue ('x.#'): no such binding": (
            seed,
            delete(queue_binding("media_exchange", "video_queue", "x.#")),
        ),
        "queue 'video_queue': consumer 'worker' still consumes it; delete or change that consumer first": (
            seed,
            delete(QueueSpec("video_queue")),
        ),
        "queue 'ghost': does not exist": (seed, delete(QueueSpec("ghost"))),
        "consumer 'w2': unknown queue 'nope'": (seed, declare(ConsumerSpec("w2", ("nope",)))),
    }
    for expected, (topology, change) in cases.items():
        assert change_problem(topology, change) == expected
    dlx = dead_letter.queues[0].dead_letter_exchange
    assert dlx is not None
    problem = change_problem(dead_letter, delete(ExchangeSpec(dlx)))
    assert problem is not None and "still the dead-letter or alternate exchange" in problem


def test_json_form_follows_the_contract() -> None:
    event = TopologyChanged(change=declare(queue_binding("media_exchange", "video_queue", "video.#")))
    line = json.loads(json.dumps(event.to_json()))
    assert line["event"] == "topology" and line["msg"] is None
    assert (line["op"], line["kind"]) == ("declare", "binding")
    assert (line["source"], line["destination"], line["routing_key"], line["arguments"]) == (
        "media_exchange",
        "video_queue",
        "video.#",
        {},
    )
    queue = TopologyChanged(change=delete(QueueSpec("q", message_ttl=1.5, max_length=3))).to_json()
    assert (queue["op"], queue["kind"], queue["name"]) == ("delete", "queue", "q")
    assert queue["arguments"] == {"x-message-ttl": 1500, "x-max-length": 3}


names = st.sampled_from(["a", "b", "c"])
exchange_types = st.sampled_from(["direct", "fanout", "topic", "headers"])
keys = st.sampled_from(["#", "a.*", ""])
changes = st.one_of(
    st.builds(lambda n, t: declare(ExchangeSpec(f"x{n}", t)), names, exchange_types),
    st.builds(lambda n: delete(ExchangeSpec(f"x{n}")), names),
    st.builds(lambda n: declare(QueueSpec(f"q{n}")), names),
    st.builds(lambda n: delete(QueueSpec(f"q{n}")), names),
    st.builds(lambda x, q, k: declare(queue_binding(f"x{x}", f"q{q}", k)), names, names, keys),
    st.builds(lambda x, q, k: delete(queue_binding(f"x{x}", f"q{q}", k)), names, names, keys),
    st.builds(lambda n, q: declare(ConsumerSpec(f"c{n}", (f"q{q}",))), names, names),
    st.builds(lambda n: delete(ConsumerSpec(f"c{n}", ())), names),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(changes, max_size=25))
def test_accepted_changes_always_leave_a_valid_topology(sequence: list[TopologyChange]) -> None:
    topology = EMPTY
    for change in sequence:
        if change_problem(topology, change) is None:
            topology = apply_change(topology, change)
            assert topology.problems() == []
    # Whatever was built can be built again from its own declarations.
    assert build(declarations(topology)) == topology


def test_text_log_names_each_change() -> None:
    from core.eventlog import describe

    lines = [describe(TopologyChanged(change=c), {}) for c in declarations(load_scenario("seed").topology)]
    assert lines == [
        "DECLARED exchange 'media_exchange' (topic)",
        "DECLARED queue 'video_queue'",
        "DECLARED queue 'audit_queue'",
        "DECLARED binding media_exchange -> video_queue 'video.#'",
        "DECLARED binding media_exchange -> audit_queue '#'",
        "DECLARED consumer 'worker' (on video_queue, audit_queue, prefetch 1)",
    ]
    gone = describe(TopologyChanged(change=delete(QueueSpec("q"))), {})
    assert gone == "DELETED queue 'q'"
