"""Pausing a consumer on mqscope:// does what a RabbitMQ consumer that stops taking work does: it
finishes the message in hand, hands back what it had prefetched (basic.reject, requeue) and cancels
its subscription (basic.cancel), so new messages wait ready in the queue, where TTL applies; resuming
subscribes again. memory:// is shown doing the same, and saying where it still differs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Consumer, Queue

from broker_support import WAIT, Recorder, consuming, declare, depth, drain_until, fresh_url, publish
from core.backends.memory import reset_memory_transport
from core.broker import get_broker, name_from_url, reset_brokers
from core.engine import Engine
from core.events import Acked, Delivered, Notice, Requeued
from pause_scenario import (
    QUEUE,
    assert_paused_as_rabbitmq_does,
    depth_is,
    pause_scenario,
    run_pause_scenario,
    running,
    state_is,
)


@pytest.fixture(autouse=True)
def _clean_brokers() -> Iterator[None]:
    reset_brokers()
    reset_memory_transport()
    yield
    reset_brokers()
    reset_memory_transport()


def test_basic_cancel_leaves_sent_copies_unacked_and_hands_them_to_the_callback() -> None:
    """RabbitMQ does not take back what it already sent a cancelled consumer: the client gets it
    (pyamqp, while waiting for basic.cancel-ok) and must ack or reject it."""
    url = fresh_url()
    seen = Recorder(url)
    broker = get_broker(name_from_url(url))
    with Connection(url) as conn:
        declare(conn, "jobs", "direct", [("work", "job")])
        for n in range(3):
            publish(conn, "jobs", "job", {"n": n}, message_id=f"m{n}")
        got: list[tuple[Any, Any]] = []
        with consuming(conn, ["work"], lambda body, message: got.append((body, message)), prefetch=2) as c:
            drain_until(conn, lambda: len(got) == 1)
            assert broker.depth("work") == (1, 2)  # m1 sent, not yet read by the client
            c.cancel()
            # m1 reached the callback during the cancel; both copies are still the client's.
            assert [body for body, _m in got] == [{"n": 0}, {"n": 1}]
            assert broker.depth("work") == (1, 2)
            assert depth(conn, "work") == 1
            got[0][1].ack()
            got[1][1].reject(requeue=True)
            assert broker.depth("work") == (2, 0)  # nobody subscribed: m1 and m2 wait ready
    assert [(e.msg, e.reason) for e in seen.of("requeued")] == [("m1", "rejected")]


def test_unread_copies_a_cancel_cannot_hand_over_go_back_and_are_reported() -> None:
    """A callback that raises on the first copy handed over at cancel: that copy stays the client's
    (as with pyamqp, it is unsettled), the rest go back to the queue; no-ack copies reach the
    callback the same way, and those that cannot are reported dropped, not lost unseen."""
    url = fresh_url()
    seen = Recorder(url)
    broker = get_broker(name_from_url(url))
    with Connection(url) as conn:
        declare(conn, "jobs", "direct", [("acked_q", "a"), ("noack_q", "n")])
        for n in range(3):
            publish(conn, "jobs", "a", {"n": n}, message_id=f"a{n}")
            publish(conn, "jobs", "n", {"n": n}, message_id=f"n{n}")
        channel = conn.channel()

        def refuse(body: Any, message: Any) -> None:
            raise RuntimeError(f"callback bug on {body}")

        got: list[Any] = []
        acked = Consumer(channel, queues=[Queue("acked_q", no_declare=True)], callbacks=[refuse])
        noack = Consumer(
            channel,
            queues=[Queue("noack_q", no_declare=True)],
            callbacks=[lambda body, _message: got.append(body), refuse],
            no_ack=True,
        )
        acked.consume()
        noack.consume()  # every copy is pushed to the inbox; none is read
        with pytest.raises(RuntimeError, match="callback bug"):
            acked.cancel()
        assert broker.depth("acked_q") == (2, 1)  # a0 still the client's; a1, a2 back
        assert [(e.msg, e.reason) for e in seen.of("requeued")] == [
            ("a1", "its consumer was cancelled before reading it"),
            ("a2", "its consumer was cancelled before reading it"),
        ]
        with pytest.raises(RuntimeError, match="callback bug"):
            noack.cancel()
        assert got == [{"n": 0}]  # n0 reached the callback; n1, n2 left noack_q when sent: gone
        assert [(e.msg, e.queue) for e in seen.of("dropped")] == [("n1", "noack_q"), ("n2", "noack_q")]
        assert all("cancelled before reading it" in e.reason for e in seen.of("dropped"))
        channel.close()
    assert broker.depth("acked_q") == (3, 0)


def test_pausing_hands_back_the_prefetched_copy_and_ttl_applies_while_paused() -> None:
    url = fresh_url()
    result = run_pause_scenario(url)
    assert_paused_as_rabbitmq_does(result)
    assert not result.of(Notice)
    assert get_broker(name_from_url(url)).depth(QUEUE) == (0, 0)  # nothing left ready or held


def test_a_worker_paused_with_nothing_prefetched_on_memory_and_the_notice_it_gives() -> None:
    """memory:// fetches one message per drain, so a pausing worker holds no prefetched copy (nothing
    to hand back); what waits in the queue never expires there, and the app says so."""
    engine = Engine(pause_scenario(), "memory://", speed=4)
    worker = engine.controls["worker"]
    worker.paused.set()
    a = engine.publish("pause_ex", "job", {"n": "A"})
    b = engine.publish("pause_ex", "job", {"n": "B"})
    with running(engine) as run:
        run.index("worker paused", state_is("paused"))
        run.index("A and B ready", depth_is(QUEUE, 2, 0))
        engine.gate.pause()
        worker.paused.clear()
        run.index("A delivered", lambda e: isinstance(e, Delivered) and e.msg == a)
        worker.paused.set()
        engine.gate.resume()
        acked_a = run.index("A acked", lambda e: isinstance(e, Acked) and e.msg == a)
        paused = run.index("worker paused again", state_is("paused"), after=acked_a)
        run.index("B ready", depth_is(QUEUE, 1, 0), after=acked_a)
        assert not [e for e in run.events[paused:] if isinstance(e, Delivered)]
        worker.paused.clear()
        run.index("B acked", lambda e: isinstance(e, Acked) and e.msg == b)
    assert not [e for e in run.events if isinstance(e, Requeued)]
    delivered = [(e.msg, e.redelivered) for e in run.events if isinstance(e, Delivered)]
    assert delivered == [(a, False), (b, False)]
    (notice,) = [e for e in run.events if isinstance(e, Notice)]
    assert notice.level == "warning" and "memory:// ignores TTL" in notice.text
    assert "while worker is paused never expire" in notice.text


def test_resume_and_pause_again_many_times_loses_nothing() -> None:
    """Toggling pause under a stream of messages: every copy is acked exactly once, none is stuck."""
    url = fresh_url()
    engine = Engine(pause_scenario(), url, speed=4)
    worker = engine.controls["worker"]
    ids = [engine.publish("pause_ex", "job", {"n": n}) for n in range(20)]
    with running(engine) as run:
        for _round in range(6):
            worker.paused.set()
            run.index("paused", state_is("paused"), after=len(run.events) - 1)
            worker.paused.clear()
            run.index("idle", state_is("idle"), after=len(run.events) - 1)
        acked = lambda ev: {e.msg for e in ev if isinstance(e, Acked)} >= set(ids)  # noqa: E731
        run.wait_for("all acked", acked, 3 * WAIT)
    acks = [e.msg for e in run.events if isinstance(e, Acked)]
    assert sorted(acks) == sorted(ids)  # once each
    backs = [e for e in run.events if isinstance(e, Requeued)]
    assert all(e.reason == "consumer paused" for e in backs)
    # Each handed-back copy comes back exactly once, flagged redelivered; first deliveries are not.
    delivered = [e for e in run.events if isinstance(e, Delivered)]
    assert sorted(e.msg for e in delivered if not e.redelivered) == sorted(ids)
    assert sorted(e.msg for e in delivered if e.redelivered) == sorted(e.msg for e in backs)
    assert get_broker(name_from_url(url)).depth(QUEUE) == (0, 0)
