"""Every copy the in-process broker held is accounted for: a reset, a cancelled consumer or a closed
channel reports each copy it takes away (dropped, with the reason, or requeued); and a failure in a
broker thread (the TTL timer) or a listener is reported as an InternalError, not lost with the thread."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kombu import Connection, Consumer, Queue

from broker_support import Recorder, declare, drain_until, fresh_url, publish
from core.broker import get_broker, name_from_url
from core.events import FlowEvent


def _copies(events: list[Any]) -> Counter[tuple[str, str]]:
    return Counter((e.msg, e.queue) for e in events)


def test_reset_reports_every_copy_ready_unacked_and_unread() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "jobs", "direct", [("acked_q", "a"), ("noack_q", "n")])
        for n in range(5):
            publish(conn, "jobs", "a", {"n": n}, message_id=f"a{n}")
        for n in range(2):
            publish(conn, "jobs", "n", {"n": n}, message_id=f"n{n}")
        held: list[Any] = []
        acked_channel, noack_channel = conn.channel(), conn.channel()
        Consumer(
            acked_channel,
            queues=[Queue("acked_q", no_declare=True)],
            callbacks=[lambda _body, message: held.append(message)],
            accept=["json"],
            prefetch_count=2,
        ).consume()
        # a0 is read and held unacked; a1 waits unread in the connection's inbox (prefetch 2)
        drain_until(conn, lambda: len(held) == 1)
        Consumer(  # no-ack: both copies leave noack_q at once and wait unread in the inbox
            noack_channel,
            queues=[Queue("noack_q", no_declare=True)],
            callbacks=[lambda _body, _message: None],
            accept=["json"],
            no_ack=True,
        ).consume()
        get_broker(name_from_url(url)).reset()
        dropped = seen.of("dropped")
        assert _copies(dropped) == {
            **{(f"a{n}", "acked_q"): 1 for n in range(5)},
            ("n0", "noack_q"): 1,
            ("n1", "noack_q"): 1,
        }
        assert all("broker reset" in e.reason for e in dropped)
        held[0].ack()  # acking a copy the reset dropped is harmless, and reports nothing more
        acked_channel.close()
        noack_channel.close()
    assert seen.of("requeued") == [] and len(seen.of("dropped")) == 7


def test_cancelling_a_consumer_hands_its_unread_copies_to_its_callback() -> None:
    """As RabbitMQ does, a cancel takes nothing back: copies sent but unread reach the callback (as
    pyamqp dispatches them before basic.cancel-ok) and stay the client's until it settles them.
    Copies a failing callback cannot take are reported: tests/test_broker_pause.py."""
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "jobs", "direct", [("acked_q", "a"), ("noack_q", "n")])
        for n in range(2):
            publish(conn, "jobs", "a", {"n": n}, message_id=f"a{n}")
            publish(conn, "jobs", "n", {"n": n}, message_id=f"n{n}")
        channel = conn.channel()
        got: list[Any] = []
        consumers = [
            Consumer(
                channel,
                queues=[Queue(q, no_declare=True)],
                callbacks=[lambda _body, message: got.append(message)],
                accept=["json"],
                no_ack=no_ack,
            )
            for q, no_ack in (("acked_q", False), ("noack_q", True))
        ]
        for consumer in consumers:
            consumer.consume()  # every copy is pushed to the inbox; none is read
        for consumer in consumers:
            consumer.cancel()
        assert [m.properties["message_id"] for m in got] == ["a0", "a1", "n0", "n1"]
        assert seen.of("requeued") == [] and seen.of("dropped") == []
        assert get_broker(name_from_url(url)).depth("acked_q") == (0, 2)  # still the client's
        channel.close()  # and a closed channel gives them back
    assert _copies(seen.of("requeued")) == {("a0", "acked_q"): 1, ("a1", "acked_q"): 1}


def test_closing_a_channel_reports_its_unread_no_ack_copies() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "jobs", "direct", [("noack_q", "n")])
        publish(conn, "jobs", "n", {}, message_id="n0")
        channel = conn.channel()
        Consumer(channel, queues=[Queue("noack_q", no_declare=True)], accept=["json"], no_ack=True).consume()
        channel.close()
    assert [(e.msg, e.queue) for e in seen.of("dropped")] == [("n0", "noack_q")]
    assert "closed before reading it" in seen.of("dropped")[0].reason


def test_a_failing_listener_is_reported_and_the_ttl_timer_keeps_expiring() -> None:
    """A listener that raises on `expired` runs on the broker's own TTL timer thread: the failure
    reaches every listener as an InternalError, and later messages still expire on time."""
    url = fresh_url()
    seen = Recorder(url)

    def breaks_on_expiry(event: FlowEvent) -> None:
        if event.kind == "expired":
            raise RuntimeError(f"listener bug on {event.msg}")

    get_broker(name_from_url(url)).subscribe(breaks_on_expiry)
    after = Recorder(url)  # subscribed after the broken listener: it still hears everything
    with Connection(url) as conn:
        declare(conn, "jobs", "direct", [("ttl_q", "k")])
        publish(conn, "jobs", "k", {}, message_id="first", expiration=0.05)
        errors = seen.wait_for("error")
        publish(conn, "jobs", "k", {}, message_id="second", expiration=0.05)
        seen.wait_for("expired", 2)
        seen.wait_for("error", 2)
    assert [e.msg for e in seen.of("expired")] == ["first", "second"]
    assert [e.msg for e in after.of("expired")] == ["first", "second"] and len(after.of("error")) == 2
    first = errors[0]
    assert "listener of broker" in first.where and first.where.endswith("-ttl")  # the timer's thread
    assert first.error == "RuntimeError: listener bug on first"
    assert "breaks_on_expiry" in first.traceback
    assert first.to_json()["event"] == "error"
