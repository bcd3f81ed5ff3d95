"""Random sequences of publish / get / ack / requeue / reject / channel close through the transport:
no copy is ever lost or duplicated, and a queue always hands out its oldest copy first (requeued
copies go back to their old place, as RabbitMQ does)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kombu import Connection

from broker_support import Recorder, declare, fresh_url, publish
from core.backends import backend_for
from core.broker import get_broker, name_from_url

QUEUES = ("q_video", "q_all", "q_small")
Op = tuple[str, int]

ops = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(0, 1)),
        st.tuples(st.just("get"), st.integers(0, len(QUEUES) - 1)),
        st.tuples(st.sampled_from(["ack", "requeue", "reject"]), st.integers(0, 7)),
        st.tuples(st.just("close"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_copies_are_conserved_and_served_oldest_first(steps: list[Op]) -> None:
    url = fresh_url()
    seen = Recorder(url)
    backend = backend_for(url)
    with Connection(url) as conn:
        declare(conn, "dead", "fanout", [("q_dead", "")])
        declare(conn, "media", "topic", [("q_video", "video.#"), ("q_all", "#")])
        declare(conn, "media", "topic", [("q_small", "#")], x_max_length=2,
                x_dead_letter_exchange="dead")
        channel = conn.channel()
        held: list[tuple[str, Any]] = []
        acked = 0
        published = 0
        for op, arg in steps:
            if op == "publish":
                key = ("video.upload", "user.login")[arg]
                publish(conn, "media", key, {"n": published}, message_id=f"m{published}")
                published += 1
            elif op == "get":
                queue = QUEUES[arg]
                message = channel.basic_get(queue)
                if message is not None:
                    n = message.payload["n"]
                    # Oldest first: nothing older is still waiting in this queue.
                    assert all(n < m for m in _waiting(url, queue))
                    held.append((queue, message))
            elif op == "close":
                channel.close()
                channel, held = conn.channel(), []
            elif held:
                _queue, message = held.pop(arg % len(held))
                if op == "ack":
                    message.ack()
                    acked += 1
                elif op == "requeue":
                    message.requeue()
                else:
                    message.reject(requeue=False)
            copies = sum(len(e.queues) for e in seen.of("routed"))
            copies += sum(len(e.queues) for e in seen.of("dead_lettered"))
            gone = acked + len(seen.of("dropped")) + len(seen.of("dead_lettered"))
            present = sum(sum(backend.queue_depth(None, q)) for q in (*QUEUES, "q_dead"))
            assert present + gone == copies
            assert sum(backend.queue_depth(None, q)[1] for q in (*QUEUES, "q_dead")) == len(held)
        seen.unsubscribe()


def _waiting(url: str, queue: str) -> list[int]:
    """The numbers of a queue's waiting copies, read from the broker without disturbing it."""
    broker = get_broker(name_from_url(url))
    with broker._lock:
        return [int(e.msg_id[1:]) for e in broker.queues[queue].ready]
