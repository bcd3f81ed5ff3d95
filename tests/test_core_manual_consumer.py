"""You are the consumer: a manual consumer holds each delivery until the user decides, and each
decision is the AMQP method the README names, checked against the ledger's outcome."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.backends.memory import reset_memory_transport
from core.broker import reset_brokers
from core.engine import Engine
from manual_support import Session, manual_scenario


@pytest.fixture(autouse=True)
def _clean_brokers() -> Iterator[None]:
    reset_brokers()
    reset_memory_transport()
    yield
    reset_brokers()
    reset_memory_transport()


@pytest.fixture
def session() -> Iterator[Session]:
    running = Session(Engine(manual_scenario(), "mqscope://"))
    yield running
    running.close()


def test_ack_settles_the_copy_as_acked(session: Session) -> None:
    msg = session.engine.publish("jobs", "job", {"n": 1})
    session.held(msg)
    assert session.engine.controls["you"].decide(msg, "ack")
    session.until(lambda: session.ledger.all_settled and session.ledger.published == 1, "settled")
    assert session.ledger.fate(msg) == {"work": "acked"}
    assert session.ledger.consumers["you"].state == "idle"


def test_requeue_puts_it_back_redelivered_and_it_waits_again(session: Session) -> None:
    msg = session.engine.publish("jobs", "job", {"n": 1})
    session.held(msg)
    assert session.engine.controls["you"].decide(msg, "requeue")
    session.held(msg, redelivered=True)  # back at the head of its queue, delivered again
    assert session.ledger.consumers["you"].requeued == 1
    assert session.ledger.open_copies(msg) == {"work"}
    assert session.engine.controls["you"].decide(msg, "ack")
    session.until(lambda: session.ledger.all_settled, "settled")
    assert session.ledger.fate(msg) == {"work": "acked"}


def test_reject_sends_it_to_the_dead_letter_exchange(session: Session) -> None:
    msg = session.engine.publish("jobs", "job", {"n": 1})
    session.held(msg)
    assert session.engine.controls["you"].decide(msg, "dead_letter")
    session.until(lambda: session.ledger.queues["dead"].acked == 1, "the janitor's ack of the dead letter")
    assert session.ledger.fate(msg) == {"work": "dead-lettered (rejected)"}
    assert session.ledger.queues["work"].dead_lettered == 1


def test_drop_discards_it_even_where_the_queue_has_a_dead_letter_exchange(session: Session) -> None:
    msg = session.engine.publish("jobs", "job", {"n": 1})
    session.held(msg)
    assert session.engine.controls["you"].decide(msg, "drop")
    session.until(lambda: session.ledger.all_settled and session.ledger.published == 1, "settled")
    assert session.ledger.fate(msg) == {"work": "dropped by consumer"}  # never reached `dead`
    assert session.ledger.queues["dead"].routed == 0


def test_a_decision_for_a_message_no_longer_held_settles_nothing(session: Session) -> None:
    first = session.engine.publish("jobs", "job", {"n": 1})
    second = session.engine.publish("jobs", "job", {"n": 2})
    control = session.engine.controls["you"]
    session.held(first)
    assert control.decide(first, "ack")
    session.held(second)
    assert not control.decide(first, "drop")  # a second key press on the first: nothing happens
    assert session.ledger.open_copies(second) == {"work"}
    assert control.decide(second, "ack")
    session.until(lambda: session.ledger.all_settled and session.ledger.published == 2, "settled")
    assert session.ledger.fate(second) == {"work": "acked"}


def test_switching_manual_off_lets_the_held_message_be_handled_as_usual(session: Session) -> None:
    msg = session.engine.publish("jobs", "job", {"n": 1})
    session.held(msg)
    session.engine.controls["you"].manual.clear()
    session.until(lambda: session.ledger.all_settled and session.ledger.published == 1, "settled")
    assert session.ledger.fate(msg) == {"work": "acked"}


def test_stopping_while_a_message_is_held_ends_the_loop_and_leaves_it_to_the_broker() -> None:
    session = Session(Engine(manual_scenario(), "mqscope://"))
    msg = session.engine.publish("jobs", "job", {"n": 1})
    session.held(msg)
    session.close()  # joins every loop (ctrl+q does the same): raises if one still runs
    assert session.ledger.open_copies(msg) == {"work"}


def test_a_crash_while_a_message_is_held_gives_it_back_and_it_is_held_again(session: Session) -> None:
    msg = session.engine.publish("jobs", "job", {"n": 1})
    session.held(msg)
    session.engine.controls["you"].crash()  # the connection drops with the copy unacked
    session.held(msg, redelivered=True)
    assert session.ledger.consumers["you"].processed == 0
    assert session.engine.controls["you"].decide(msg, "ack")
    session.until(lambda: session.ledger.all_settled, "settled")
    assert session.ledger.fate(msg) == {"work": "acked"}


def test_headless_runs_a_manual_consumer_automatic_and_says_so() -> None:
    import io
    import json

    from core.headless import HeadlessOptions, run_headless

    out = io.StringIO()
    options = HeadlessOptions(publish=["job"], play_script=False, timeout=20.0)
    assert run_headless(Engine(manual_scenario(), "mqscope://"), options, out) == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    notices = [e["text"] for e in events if e["event"] == "notice"]
    assert notices == ["consumer you is manual in the scenario; headless, it runs automatic"]
    assert [e["consumer"] for e in events if e["event"] == "acked"] == ["you"]
