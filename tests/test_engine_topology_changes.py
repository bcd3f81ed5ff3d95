"""Topology changes through the engine while messages flow, on the in-process broker and memory://."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from broker_support import fresh_url
from core.backends.memory import reset_memory_transport
from core.engine import Engine
from core.events import TopologyChanged
from core.runner import LoopRunner
from core.scenario import load_scenario
from core.topology import ExchangeSpec, QueueSpec, TopologyError
from core.topology_changes import declare, delete, exchange_binding, queue_binding
from topology_while_flowing import Watch, exercise, seed_without_work


@pytest.fixture(autouse=True)
def _clean_memory() -> Iterator[None]:
    reset_memory_transport()
    yield
    reset_memory_transport()


def test_changes_while_messages_flow_on_the_in_process_broker() -> None:
    watch = exercise(Engine(seed_without_work(), fresh_url()))
    dropped = watch.of("dropped", queue="extra_queue")
    assert len(dropped) == 3 and {e.reason for e in dropped} == {"its queue was deleted"}
    # The scenario's own topology came first, as events, before any message.
    first_message = next(i for i, e in enumerate(watch.events) if e.msg is not None)
    scenario = [e for e in watch.events[:first_message] if isinstance(e, TopologyChanged)]
    assert [(e.change.kind, e.origin) for e in scenario] == [
        ("exchange", "scenario"),
        ("queue", "scenario"),
        ("queue", "scenario"),
        ("binding", "scenario"),
        ("binding", "scenario"),
        ("consumer", "scenario"),
    ]
    assert {e.consumer for e in watch.of("delivered")} == {"worker", "helper"}


def test_changes_while_messages_flow_on_kombu_memory() -> None:
    exercise(Engine(seed_without_work(), "memory://"))


def test_refused_changes_say_why_in_one_line() -> None:
    engine = Engine(seed_without_work(), fresh_url())
    with pytest.raises(TopologyError, match=r"^binding media_exchange -> nowhere \('a'\): unknown queue"):
        engine.change_topology(declare(queue_binding("media_exchange", "nowhere", "a")))
    engine.change_topology(declare(QueueSpec("later")))
    # Checked against the topology as it will be once queued changes are made, not only as it is.
    with pytest.raises(TopologyError, match=r"^queue 'later': exists with other arguments"):
        engine.change_topology(declare(QueueSpec("later", max_length=2)))
    memory = Engine(load_scenario("seed"), "memory://")
    with pytest.raises(TopologyError, match=r"^kombu memory:// deletes the queues bound to an exchange"):
        memory.change_topology(delete(ExchangeSpec("media_exchange")))
    with pytest.raises(TopologyError, match=r"^kombu memory:// has no headers exchange"):
        memory.change_topology(declare(ExchangeSpec("h", "headers")))


def test_exchange_bindings_change_while_running() -> None:
    """An exchange-to-exchange binding declared and deleted live: routed through, then not."""
    engine = Engine(seed_without_work(), fresh_url())
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    watch = Watch(engine, runner)
    try:
        engine.change_topology(declare(ExchangeSpec("front", "fanout")), origin="test")
        link = exchange_binding("front", "media_exchange")
        engine.change_topology(declare(link), origin="test")
        watch.change("declare binding front -> media_exchange ('')")
        assert watch.routed(engine.publish("front", "video.upload")) == ("audit_queue", "video_queue")
        engine.change_topology(delete(link), origin="test")
        watch.change("delete binding front -> media_exchange ('')")
        assert watch.routed(engine.publish("front", "video.upload")) == ()
    finally:
        runner.shutdown()
    memory = Engine(seed_without_work(), "memory://")
    memory.change_topology(declare(ExchangeSpec("front", "fanout")))
    with pytest.raises(TopologyError, match=r"^kombu memory:// has no exchange-to-exchange bindings"):
        memory.change_topology(declare(exchange_binding("front", "media_exchange")))


def test_a_queue_deleted_by_x_expires_leaves_the_topology_as_an_event() -> None:
    """mqscope:// deletes an unused queue when x-expires runs out: its copy is dropped first, then
    a topology event (origin "expired") takes it out of the engine's topology and the ledger's."""
    engine = Engine(seed_without_work(), fresh_url())
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    watch = Watch(engine, runner)
    try:
        engine.change_topology(declare(QueueSpec("short_lived", arguments={"x-expires": 200})), origin="test")
        engine.change_topology(
            declare(queue_binding("media_exchange", "short_lived", "short.#")), origin="test"
        )
        watch.change("declare binding media_exchange -> short_lived ('short.#')")
        msg = engine.publish("media_exchange", "short.one")
        assert "short_lived" in watch.routed(msg)
        gone = watch.until(
            lambda e: isinstance(e, TopologyChanged) and e.change.op == "delete" and e.change.kind == "queue",
            "the expired queue's deletion",
        )
        assert isinstance(gone, TopologyChanged)
        assert (gone.change.name, gone.origin) == ("short_lived", "expired")
        assert gone.change.fields()["arguments"] == {"x-expires": 200}  # the spec it had, not a stub
        dropped = watch.of("dropped", msg=msg, queue="short_lived")
        assert len(dropped) == 1 and watch.events.index(dropped[0]) < watch.events.index(gone)
        assert engine.topology.queue("short_lived") is None
        assert watch.ledger.topology.queue("short_lived") is None
        assert watch.ledger.records[msg].copies["short_lived"].outcome == (
            "dropped (its queue expired unused (x-expires 200 ms) and was deleted)"
        )
        # Declared again, it is a new queue like any other (the fold did not leave it half there).
        engine.change_topology(declare(QueueSpec("short_lived")), origin="test")
        watch.change("declare queue short_lived")
    finally:
        runner.shutdown()
