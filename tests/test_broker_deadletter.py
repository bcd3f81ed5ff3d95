"""Dead-lettering, TTL and max-length on mqscope:// as RabbitMQ does them (x-death included);
memory:// shown ignoring all three."""

from __future__ import annotations

from typing import Any

from kombu import Connection

from broker_support import Recorder, declare, depth, fresh_url, publish
from core.backends import backend_for
from core.backends.memory import reset_memory_transport


def _dead_letter_setup(conn: Connection, **arguments: Any) -> None:
    declare(conn, "dlx", "fanout", [("dead", "")])
    declare(conn, "orders", "direct", [("orders_q", "order.created")], **arguments)


def test_reject_without_requeue_dead_letters_with_x_death() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        _dead_letter_setup(conn, x_dead_letter_exchange="dlx")
        publish(conn, "orders", "order.created", {"n": 1}, message_id="m1", headers={"a": 1})
        message = conn.default_channel.basic_get("orders_q")
        message.reject(requeue=False)
        assert depth(conn, "orders_q") == 0
        dead = conn.default_channel.basic_get("dead")
        assert dead.payload == {"n": 1}
        assert dead.delivery_info["exchange"] == "dlx"
        assert dead.delivery_info["routing_key"] == "order.created"
        headers = dead.headers
        assert headers["a"] == 1
        (death,) = headers["x-death"]
        assert {k: death[k] for k in ("count", "reason", "queue", "exchange", "routing-keys")} == {
            "count": 1,
            "reason": "rejected",
            "queue": "orders_q",
            "exchange": "orders",
            "routing-keys": ["order.created"],
        }
        assert (headers["x-first-death-reason"], headers["x-first-death-queue"]) == (
            "rejected",
            "orders_q",
        )
    (event,) = seen.of("dead_lettered")
    assert (event.msg, event.queue, event.reason, event.exchange, event.queues) == (
        "m1",
        "orders_q",
        "rejected",
        "dlx",
        ("dead",),
    )


def test_dead_letter_routing_key_replaces_the_original() -> None:
    with Connection(fresh_url()) as conn:
        declare(conn, "dlx", "direct", [("dead_orders", "dead.order")])
        declare(
            conn,
            "orders",
            "direct",
            [("orders_q", "order.created")],
            x_dead_letter_exchange="dlx",
            x_dead_letter_routing_key="dead.order",
        )
        publish(conn, "orders", "order.created")
        conn.default_channel.basic_get("orders_q").reject(requeue=False)
        dead = conn.default_channel.basic_get("dead_orders")
        assert dead.delivery_info["routing_key"] == "dead.order"
        assert dead.headers["x-death"][0]["routing-keys"] == ["order.created"]


def test_reject_without_a_dead_letter_exchange_drops_and_says_so() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "orders", "direct", [("orders_q", "k")])
        publish(conn, "orders", "k", message_id="m1")
        conn.default_channel.basic_get("orders_q").reject(requeue=False)
        assert backend_for(url).queue_depth(None, "orders_q") == (0, 0)
    (dropped,) = seen.of("dropped")
    assert (dropped.msg, dropped.queue) == ("m1", "orders_q")
    assert "no dead-letter exchange" in dropped.reason


def test_queue_ttl_expires_into_the_dead_letter_exchange() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        _dead_letter_setup(conn, x_dead_letter_exchange="dlx", x_message_ttl=30)
        publish(conn, "orders", "order.created", {"n": 1}, message_id="m1")
        seen.wait_for("dead_lettered")
        assert depth(conn, "orders_q") == 0
        dead = conn.default_channel.basic_get("dead")
        assert dead.headers["x-death"][0]["reason"] == "expired"
    assert [e.msg for e in seen.of("expired")] == ["m1"]
    (event,) = seen.of("dead_lettered")
    assert (event.reason, event.queues) == ("expired", ("dead",))


def test_per_message_expiration_without_a_dead_letter_exchange() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "orders", "direct", [("orders_q", "k")])
        publish(conn, "orders", "k", {"n": 1}, message_id="short", expiration=0.03)
        publish(conn, "orders", "k", {"n": 2}, message_id="forever")
        (expired,) = seen.wait_for("expired")
        assert (expired.msg, expired.queue) == ("short", "orders_q")
        assert depth(conn, "orders_q") == 1
        assert conn.default_channel.basic_get("orders_q").payload == {"n": 2}
    assert seen.of("dead_lettered") == [] and seen.of("dropped") == []


def test_expiry_happens_at_the_head_only_as_in_rabbitmq() -> None:
    """A short-lived message behind a long-lived one waits; it expires on reaching the head."""
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "orders", "direct", [("orders_q", "k")])
        publish(conn, "orders", "k", {"n": 1}, message_id="head")
        publish(conn, "orders", "k", {"n": 2}, message_id="behind", expiration=0.001)
        publish(conn, "orders", "k", {"n": 3}, message_id="marker", expiration=0.02)
        head = conn.default_channel.basic_get("orders_q")  # only now do the others reach the head
        assert head.payload == {"n": 1}
        seen.wait_for("expired", 2)
        assert [e.msg for e in seen.of("expired")] == ["behind", "marker"]


def test_max_length_drops_the_head_into_the_dead_letter_exchange() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        _dead_letter_setup(conn, x_dead_letter_exchange="dlx", x_max_length=2)
        for n in range(3):
            publish(conn, "orders", "order.created", {"n": n}, message_id=f"m{n}")
        assert depth(conn, "orders_q") == 2
        assert conn.default_channel.basic_get("orders_q").payload == {"n": 1}
        dead = conn.default_channel.basic_get("dead")
        assert dead.payload == {"n": 0}
        assert dead.headers["x-death"][0]["reason"] == "maxlen"
    assert [(e.msg, e.reason) for e in seen.of("dead_lettered")] == [("m0", "maxlen")]


def test_max_length_without_a_dead_letter_exchange_drops_the_oldest() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(conn, "orders", "direct", [("orders_q", "k")], x_max_length=1)
        publish(conn, "orders", "k", {"n": 0}, message_id="old")
        publish(conn, "orders", "k", {"n": 1}, message_id="new")
        assert conn.default_channel.basic_get("orders_q").payload == {"n": 1}
    (dropped,) = seen.of("dropped")
    assert dropped.msg == "old" and "x-max-length 1" in dropped.reason


def test_repeated_rejects_count_up_in_x_death() -> None:
    """A queue dead-lettering to itself via the default exchange: allowed, since a reject is in it."""
    with Connection(fresh_url()) as conn:
        declare(
            conn,
            "x",
            "direct",
            [("retry_q", "k")],
            x_dead_letter_exchange="",
            x_dead_letter_routing_key="retry_q",
        )
        publish(conn, "x", "k", {"n": 1})
        for _ in range(2):
            conn.default_channel.basic_get("retry_q").reject(requeue=False)
        message = conn.default_channel.basic_get("retry_q")
        (death,) = message.headers["x-death"]
        assert (death["count"], death["reason"], death["queue"]) == (2, "rejected", "retry_q")


def test_an_expiry_cycle_is_dropped_not_looped() -> None:
    url = fresh_url()
    seen = Recorder(url)
    with Connection(url) as conn:
        declare(
            conn,
            "x",
            "direct",
            [("loop_q", "k")],
            x_dead_letter_exchange="",
            x_dead_letter_routing_key="loop_q",
            x_message_ttl=10,
        )
        publish(conn, "x", "k", message_id="m1")
        # RabbitMQ: the copy would reach loop_q a second time with no reject in between: dropped.
        (event,) = seen.wait_for("dead_lettered")
        assert (event.reason, event.queues) == ("expired", ())
        assert backend_for(url).queue_depth(None, "loop_q") == (0, 0)


def test_memory_ignores_ttl_max_length_and_dead_lettering() -> None:
    reset_memory_transport()
    try:
        with Connection("memory://") as conn:
            _dead_letter_setup(conn, x_dead_letter_exchange="dlx", x_max_length=1)
            for n in range(3):
                publish(conn, "orders", "order.created", {"n": n}, expiration=0.001)
            assert depth(conn, "orders_q") == 3
            conn.default_channel.basic_get("orders_q").reject(requeue=False)
            assert depth(conn, "dead") == 0
    finally:
        reset_memory_transport()
