"""Delivery on mqscope:// as on RabbitMQ: requeue in place, unacked survive a closed channel,
per-consumer prefetch, competing consumers, exact depths; memory:// shown doing otherwise."""

from __future__ import annotations

import threading
from typing import Any

from kombu import Connection, Consumer, Queue

from broker_support import (
    WAIT,
    Recorder,
    consuming,
    declare,
    depth,
    drain_until,
    fresh_url,
    publish,
)
from core.backends import backend_for
from core.backends.memory import reset_memory_transport
from core.controls import StopCheck
from core.runner import LoopRunner

Got = list[tuple[Any, Any]]


def _keep(into: Got) -> Any:
    return lambda body, message: into.append((body, message))


def test_requeue_goes_back_to_its_own_queue_at_the_head_marked_redelivered() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "media", "topic", [("video_queue", "video.#"), ("audit_queue", "#")])
        for n in range(3):
            publish(conn, "media", "video.upload", {"n": n}, message_id=f"m{n}")
        got: Got = []
        with consuming(conn, ["video_queue"], _keep(got), prefetch=1):
            drain_until(conn, lambda: len(got) == 1)
            first_body, first = got[0]
            assert first_body == {"n": 0} and not first.delivery_info["redelivered"]
            first.requeue()
            drain_until(conn, lambda: len(got) == 2)
            again_body, again = got[1]
            assert again_body == {"n": 0}  # the head, not the tail
            assert again.delivery_info["redelivered"] is True
            again.ack()
            drain_until(conn, lambda: len(got) == 3)
            assert got[2][0] == {"n": 1} and not got[2][1].delivery_info["redelivered"]
            got[2][1].ack()
        # No copy appeared anywhere else: the sibling queue still holds exactly its own three.
        assert depth(conn, "audit_queue") == 3
    # m2 was already pushed to the consumer (prefetch) when its channel closed: it went back too.
    assert [(e.msg, e.queue, e.reason.split()[0]) for e in seen.of("requeued")] == [
        ("m0", "video_queue", "rejected"),
        ("m2", "video_queue", "its"),
    ]


def test_memory_requeue_reroutes_into_siblings_at_the_tail_without_redelivered() -> None:
    """The documented memory:// difference: requeue re-publishes through the exchange."""
    reset_memory_transport()
    try:
        with Connection("memory://", transport_options={"polling_interval": 0.01}) as conn:
            declare(conn, "media", "topic", [("video_queue", "video.#"), ("audit_queue", "#")])
            for n in range(2):
                publish(conn, "media", "video.upload", {"n": n})
            got: Got = []
            with consuming(conn, ["video_queue"], _keep(got), prefetch=1):
                drain_until(conn, lambda: len(got) == 1)
                got[0][1].requeue()
                drain_until(conn, lambda: len(got) == 2)
                assert got[1][0] == {"n": 1}  # the requeued message went to the tail
                assert not got[0][1].delivery_info.get("redelivered")
                assert depth(conn, "audit_queue") == 3  # and a duplicate went to the sibling
    finally:
        reset_memory_transport()


def test_closing_a_channel_with_unacked_messages_returns_them_redelivered_in_order() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "jobs", "direct", [("work", "job")])
        for n in range(3):
            publish(conn, "jobs", "job", {"n": n}, message_id=f"m{n}")
        crashed: Got = []
        # The worker dies: its connection closes with nothing acked.
        with Connection(url) as worker, consuming(worker, ["work"], _keep(crashed), prefetch=2):
            drain_until(worker, lambda: len(crashed) == 2)
            assert backend_for(url).queue_depth(None, "work") == (1, 2)
        assert backend_for(url).queue_depth(None, "work") == (3, 0)
        survivor: Got = []
        with consuming(conn, ["work"], _keep(survivor), prefetch=0):
            drain_until(conn, lambda: len(survivor) == 3)
            flags = [(b["n"], m.delivery_info["redelivered"]) for b, m in survivor]
            assert flags == [(0, True), (1, True), (2, False)]
            for _body, message in survivor:
                message.ack()
        assert backend_for(url).queue_depth(None, "work") == (0, 0)
    requeued = sorted((e.msg, e.queue) for e in seen.of("requeued"))
    assert requeued == [("m0", "work"), ("m1", "work")]


def test_memory_loses_unacked_messages_when_the_channel_closes() -> None:
    reset_memory_transport()
    try:
        opts = {"polling_interval": 0.01}
        with Connection("memory://", transport_options=opts) as conn:
            declare(conn, "jobs", "direct", [("work", "job")])
            publish(conn, "jobs", "job", {"n": 0})
            got: Got = []
            worker = Connection("memory://", transport_options=opts)
            with worker, consuming(worker, ["work"], _keep(got), prefetch=1):
                drain_until(worker, lambda: len(got) == 1)
            assert depth(conn, "work") == 0
    finally:
        reset_memory_transport()


def test_prefetch_is_per_consumer_not_per_channel() -> None:
    """basic.qos global=false: two consumers on one channel each hold up to their own prefetch."""
    url = fresh_url()
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("q1", "one"), ("q2", "two")])
        for _ in range(3):
            publish(conn, "x", "one")
            publish(conn, "x", "two")
        got: Got = []
        channel = conn.channel()
        for name, prefetch in (("q1", 1), ("q2", 2)):
            Consumer(
                channel,
                [Queue(name, no_declare=True)],
                callbacks=[_keep(got)],
                accept=["json"],
                prefetch_count=prefetch,
            ).consume()
        backend = backend_for(url)
        # Deliveries are pushed at consume time: the split is exact before any draining.
        assert backend.queue_depth(None, "q1") == (2, 1)
        assert backend.queue_depth(None, "q2") == (1, 2)
        drain_until(conn, lambda: len(got) == 3)
        got[0][1].ack()
        assert backend.queue_depth(None, "q1") == (1, 1)  # the freed slot refilled from q1 only
        assert backend.queue_depth(None, "q2") == (1, 2)
        channel.close()
        assert backend.queue_depth(None, "q1") == (2, 0)
        assert backend.queue_depth(None, "q2") == (3, 0)


def test_competing_consumers_share_the_work_and_a_stuck_one_starves_no_one() -> None:
    url = fresh_url()
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("tasks", "t")])
        with Connection(url) as a, Connection(url) as b:
            got_a: Got = []  # a takes its message and never acks (stuck)
            got_b: Got = []

            def work_b(body: Any, message: Any) -> None:
                got_b.append((body, message))
                message.ack()

            with consuming(a, ["tasks"], _keep(got_a), prefetch=1), consuming(
                b, ["tasks"], work_b, prefetch=1
            ):
                publish(conn, "x", "t", {"n": 0})
                publish(conn, "x", "t", {"n": 1})
                drain_until(a, lambda: len(got_a) == 1)
                drain_until(b, lambda: len(got_b) == 1)  # round-robin: one each
                for n in range(2, 8):
                    publish(conn, "x", "t", {"n": n})
                drain_until(b, lambda: len(got_b) == 7)
                assert [body["n"] for body, _m in got_a] == [0]
                assert [body["n"] for body, _m in got_b] == list(range(1, 8))
                assert backend_for(url).queue_depth(None, "tasks") == (0, 1)


def test_depth_counts_ready_and_unacked_at_any_time() -> None:
    url = fresh_url()
    backend = backend_for(url)
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("q", "k")])
        assert backend.queue_depth(None, "q") == (0, 0)
        for _ in range(4):
            publish(conn, "x", "k")
        assert backend.queue_depth(None, "q") == (4, 0)
        message = conn.default_channel.basic_get("q")
        assert backend.queue_depth(None, "q") == (3, 1)
        message.ack()
        assert backend.queue_depth(None, "q") == (3, 0)
        assert depth(conn, "q") == 3
    assert backend.queue_depth(None, "no_such_queue") == (0, 0)


def test_a_blocked_drain_wakes_on_a_publish_from_another_thread() -> None:
    url = fresh_url()
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("q", "k")])
        got: Got = []
        with consuming(conn, ["q"], _keep(got), prefetch=1):
            started = threading.Event()

            def producer(_should_stop: StopCheck) -> None:
                started.wait(WAIT)
                with Connection(url) as other:
                    publish(other, "x", "k", {"hello": True})

            with LoopRunner() as runner:
                runner.start("producer", producer)
                started.set()
                conn.drain_events(timeout=WAIT)  # returns on the delivery, not at the timeout
            runner.raise_first_error()
        assert [body for body, _m in got] == [{"hello": True}]


def test_nack_multiple_and_ack_multiple() -> None:
    url = fresh_url()
    backend = backend_for(url)
    with Connection(url) as conn:
        declare(conn, "x", "direct", [("q", "k")])
        for n in range(4):
            publish(conn, "x", "k", {"n": n})
        channel = conn.default_channel
        messages = [channel.basic_get("q") for _ in range(4)]
        channel.basic_ack(messages[1].delivery_tag, multiple=True)
        assert backend.queue_depth(None, "q") == (0, 2)
        channel.basic_nack(messages[3].delivery_tag, multiple=True, requeue=True)
        assert backend.queue_depth(None, "q") == (2, 0)
        again = channel.basic_get("q")
        assert again.payload == {"n": 2} and again.delivery_info["redelivered"]
