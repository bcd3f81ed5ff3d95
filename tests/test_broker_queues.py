"""Queue lifecycles and channel-wide prefetch on mqscope://, as RabbitMQ: auto-delete, exclusive,
basic.qos global=true."""

from __future__ import annotations

from typing import Any

import pytest
from amqp.exceptions import NotFound, ResourceLocked
from kombu import Connection, Consumer, Exchange, Queue

from broker_support import Recorder, consuming, declare, drain_until, fresh_url, publish
from core.backends import backend_for


def test_global_prefetch_is_shared_by_the_channel_s_consumers() -> None:
    url = fresh_url()
    backend = backend_for(url)
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("q1", "one"), ("q2", "two")])
        for _ in range(3):
            publish(conn, "x", "one")
            publish(conn, "x", "two")
        channel = conn.channel()
        channel.basic_qos(0, 2, True)
        got: list[Any] = []
        for name in ("q1", "q2"):
            Consumer(channel, [Queue(name, no_declare=True)], callbacks=[lambda b, m: got.append(m)],
                     accept=["json"]).consume()
        held = backend.queue_depth(None, "q1")[1] + backend.queue_depth(None, "q2")[1]
        assert held == 2
        while len(got) < 2:
            conn.drain_events(timeout=1)
        got[0].ack()
        held = backend.queue_depth(None, "q1")[1] + backend.queue_depth(None, "q2")[1]
        assert held == 2  # the freed slot was refilled, still two in flight on the channel
        channel.close()


def test_auto_delete_queue_goes_when_its_last_consumer_cancels() -> None:
    url = fresh_url()
    with Connection(url) as conn:
        queue = Queue("temp", Exchange("x", type="direct"), routing_key="k", auto_delete=True)
        channel = conn.channel()
        consumer = Consumer(channel, [queue], callbacks=[lambda b, m: None], accept=["json"])
        consumer.consume()
        publish(conn, "x", "k")
        consumer.cancel()
        with pytest.raises(NotFound):
            conn.default_channel.queue_declare("temp", passive=True)


def test_exclusive_queue_belongs_to_its_connection_and_dies_with_it() -> None:
    url = fresh_url()
    with Connection(url) as other:
        with Connection(url) as owner:
            Queue("mine", Exchange("x", type="direct"), routing_key="k", exclusive=True)(
                owner.default_channel
            ).declare()
            with pytest.raises(ResourceLocked):
                Consumer(other.channel(), [Queue("mine", no_declare=True)],
                         callbacks=[lambda b, m: None]).consume()
        with pytest.raises(NotFound):
            other.channel().queue_declare("mine", passive=True)


def test_a_redeclared_queue_is_a_new_queue_for_old_unacked_copies() -> None:
    """RabbitMQ: a copy taken from a deleted queue cannot come back into its namesake."""
    url = fresh_url()
    backend = backend_for(url)
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("q", "k")])
        publish(conn, "x", "k", {"n": 1})
        publish(conn, "x", "k", {"n": 2})
        channel = conn.default_channel
        first, second = channel.basic_get("q"), channel.basic_get("q")
        channel.queue_delete("q")
        declare(conn, "x", "direct", [("q", "k")])
        first.ack()
        second.requeue()
        assert backend.queue_depth(None, "q") == (0, 0)


def test_deleting_a_queue_reports_every_copy_it_held() -> None:
    """Ready copies are dropped at once; a copy in a consumer's hands is dropped when it comes back."""
    url = fresh_url()
    recorder = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("q", "k")])
        for n in range(3):
            publish(conn, "x", "k", {"n": n}, message_id=f"m{n}")
        got: list[Any] = []
        with consuming(conn, ["q"], lambda _body, message: got.append(message), prefetch=1):
            drain_until(conn, lambda: len(got) == 1)
            conn.default_channel.queue_delete("q")
            dropped = recorder.wait_for("dropped", 2)
            assert sorted(e.msg for e in dropped) == ["m1", "m2"]
            assert {e.reason for e in dropped} == {"its queue was deleted"}
            got[0].reject(requeue=True)
            dropped = recorder.wait_for("dropped", 3)
        assert dropped[-1].msg == "m0" and dropped[-1].queue == "q"
    assert recorder.of("requeued") == []
    recorder.unsubscribe()
