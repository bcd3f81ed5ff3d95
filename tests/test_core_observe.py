"""Observe mode's decoding and matching, on real RabbitMQ 3.10.8 traces (tests/data), no broker.

The matching rule under test (core.observe.correlate): a delivery belongs to the oldest copy routed to
that queue with the same fingerprint; a redelivery first to a copy already delivered; acks, which are
not traced, settle from the polled unacked count.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.backends import backend_for
from core.events import Acked, Delivered, Dropped, FlowEvent, Notice, Published, QueueDepth, Requeued, Routed
from core.observe.correlate import GONE_AFTER, Correlator
from core.observe.firehose import Trace, TraceError, parse_trace
from core.observe.loop import BEHIND_AT, ObserveLoop, ObserveSpec, vhost_of
from core.topology import Topology

DATA = Path(__file__).parent / "data" / "firehose_trace_3_10_8.json"


def captured() -> list[dict[str, Any]]:
    data = json.loads(DATA.read_text())
    assert data["rabbitmq"] == "3.10.8"
    traces: list[dict[str, Any]] = data["traces"]
    return traces


def decoded() -> list[Trace]:
    return [parse_trace(t["routing_key"], t["headers"], t["body"].encode()) for t in captured()]


def fold(traces: list[Trace]) -> tuple[Correlator, list[FlowEvent]]:
    events: list[FlowEvent] = []
    correlator = Correlator(events.append)
    for trace in traces:
        if trace.queue is None:
            correlator.publish(trace)
        else:
            correlator.deliver(trace)
    return correlator, events


def test_real_publish_traces_say_where_rabbitmq_routed() -> None:
    traces = decoded()
    publishes = [t for t in traces if t.queue is None]
    assert [(t.exchange, t.routing_key, t.routed_queues) for t in publishes] == [
        ("cap_exchange", "video.upload", ("cap_audit", "cap_video")),
        ("cap_exchange", "user.login", ("cap_audit",)),
        ("", "cap_audit", ("cap_audit",)),
        ("cap_exchange", "x", ("cap_audit",)),
        ("cap_empty", "k", ()),
    ]
    first = publishes[0]
    assert first.properties["message_id"] == "m1" and first.headers == {"h": "v"}
    assert first.shown_body() == {"n": 1}


def test_real_deliver_traces_name_the_queue_and_redelivery() -> None:
    delivers = [t for t in decoded() if t.queue is not None]
    assert [(t.queue, t.routing_key, t.redelivered) for t in delivers] == [
        ("cap_audit", "video.upload", False),
        ("cap_audit", "user.login", False),
        ("cap_audit", "cap_audit", False),
        ("cap_audit", "x", False),
        ("cap_video", "video.upload", False),  # basic.get is traced as a delivery too
        ("cap_audit", "video.upload", True),
    ]
    assert all(t.connection and t.channel for t in delivers)


def test_every_delivery_matches_its_publish_and_the_requeue_shows() -> None:
    _correlator, events = fold(decoded())
    published = {e.msg: e.routing_key for e in events if isinstance(e, Published)}
    assert len(published) == 5
    delivered = [(published[e.msg or ""], e.queue, e.redelivered) for e in events if isinstance(e, Delivered)]
    assert delivered == [
        ("video.upload", "cap_audit", False),
        ("user.login", "cap_audit", False),
        ("cap_audit", "cap_audit", False),
        ("x", "cap_audit", False),
        ("video.upload", "cap_video", False),
        ("video.upload", "cap_audit", True),
    ]
    requeued = [e for e in events if isinstance(e, Requeued)]
    assert [(published[e.msg or ""], e.queue) for e in requeued] == [("video.upload", "cap_audit")]
    routed = [e for e in events if isinstance(e, Routed)]
    assert routed[-1].queues == () and routed[0].queues == ("cap_audit", "cap_video")
    assert not [e for e in events if isinstance(e, Notice)]  # nothing unmatched


def _publish(key: str, body: bytes, queues: tuple[str, ...] = ("q",), **props: Any) -> Trace:
    return Trace("x", (key,), dict(props), body, routed_queues=queues)


def _deliver(key: str, body: bytes, queue: str = "q", redelivered: bool = False, **props: Any) -> Trace:
    return Trace(
        "x", (key,), dict(props), body, queue=queue, redelivered=redelivered, connection="c", channel=1
    )


def test_identical_messages_are_matched_oldest_first_and_different_ones_by_body() -> None:
    events: list[FlowEvent] = []
    c = Correlator(events.append)
    a1, b, a2 = c.publish(_publish("k", b"a")), c.publish(_publish("k", b"b")), c.publish(_publish("k", b"a"))
    assert c.deliver(_deliver("k", b"b")) == b
    assert c.deliver(_deliver("k", b"a")) == a1
    assert c.deliver(_deliver("k", b"a")) == a2
    assert c.waiting("q") == 0 and c.held("q") == 3


def test_message_id_tells_apart_messages_with_the_same_body() -> None:
    c = Correlator([].append)
    first = c.publish(_publish("k", b"same", message_id="one"))
    second = c.publish(_publish("k", b"same", message_id="two"))
    assert c.deliver(_deliver("k", b"same", message_id="two")) == second
    assert c.deliver(_deliver("k", b"same", message_id="one")) == first


def test_acks_settle_from_the_unacked_count_oldest_first_never_early() -> None:
    events: list[FlowEvent] = []
    c = Correlator(events.append)
    ids = [c.publish(_publish("k", str(n).encode())) for n in range(3)]
    for n in range(3):
        c.deliver(_deliver("k", str(n).encode()))
    c.depths({"q": (0, 3)})
    assert not [e for e in events if isinstance(e, Acked)]
    c.depths({"q": (0, 5)})  # copies delivered before observe started, or whose trace is late
    assert not [e for e in events if isinstance(e, Acked)]
    c.depths({"q": (0, 1)})
    assert [e.msg for e in events if isinstance(e, Acked)] == ids[:2]
    assert [e for e in events if isinstance(e, QueueDepth)][-1].unacked == 1
    c.depths({"q": (0, 0)})
    assert [e.msg for e in events if isinstance(e, Acked)] == ids


def test_a_requeue_the_poll_took_for_an_ack_is_undone_by_the_redelivery() -> None:
    events: list[FlowEvent] = []
    c = Correlator(events.append)
    msg = c.publish(_publish("k", b"x"))
    c.deliver(_deliver("k", b"x"))
    c.depths({"q": (1, 0)})  # requeued: not unacked any more, so the poll settles it
    assert [e.msg for e in events if isinstance(e, Acked)] == [msg]
    assert c.deliver(_deliver("k", b"x", redelivered=True)) == msg
    assert isinstance(events[-2], Requeued) and isinstance(events[-1], Delivered)
    assert events[-1].redelivered and c.held("q") == 1


def test_a_delivery_of_a_message_never_seen_published_is_its_own_message_said_once() -> None:
    events: list[FlowEvent] = []
    c = Correlator(events.append)
    first = c.deliver(_deliver("k", b"old"))
    second = c.deliver(_deliver("k", b"old"))
    assert first != second
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and "did not see published" in notices[0].text


def test_copies_of_a_queue_that_is_gone_are_given_up_but_not_on_one_missed_poll() -> None:
    events: list[FlowEvent] = []
    c = Correlator(events.append)
    held = c.publish(_publish("k", b"1"))
    c.deliver(_deliver("k", b"1"))
    ready = c.publish(_publish("k", b"2"))
    c.depths({"q": None})  # listed, no counts yet: not gone
    for _ in range(GONE_AFTER - 1):
        c.depths({})
    assert not [e for e in events if isinstance(e, Dropped)]
    c.depths({})
    assert sorted(e.msg or "" for e in events if isinstance(e, Dropped)) == sorted([held, ready])


@pytest.mark.parametrize(
    ("key", "headers"),
    [("publish.x", {}), ("ack.q", {"exchange_name": "x"}), ("publish.x", {"exchange_name": "x"})],
)
def test_what_is_not_a_trace_is_refused_in_one_line(key: str, headers: dict[str, Any]) -> None:
    with pytest.raises(TraceError) as caught:
        parse_trace(key, headers, b"")
    assert "\n" not in str(caught.value)


def test_a_body_that_is_not_json_is_described_never_decoded() -> None:
    trace = Trace("x", ("k",), {"content_type": "application/octet-stream"}, b"\x00\x01")
    assert trace.shown_body() == "<application/octet-stream body, 2 bytes, not decoded>"


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://u:p@h:5672//", "/"),
        ("amqp://u:p@h:5672/", "/"),
        ("amqp://h/shop", "shop"),
        ("amqp://h/a%2Fb", "a/b"),
    ],
)
def test_vhost_of_the_broker_url(url: str, vhost: str) -> None:
    assert vhost_of(url) == vhost


def test_falling_behind_is_said_once_each_time_it_starts() -> None:
    events: list[FlowEvent] = []
    loop = ObserveLoop(
        ObserveSpec(None), lambda: Topology((), ()), backend_for("amqp://127.0.0.1//"), events.append
    )
    for waiting in (BEHIND_AT - 1, BEHIND_AT, BEHIND_AT * 2, BEHIND_AT // 2 + 1, 0, BEHIND_AT):
        loop._behind(waiting)
    said = [e.text for e in events if isinstance(e, Notice)]
    assert len(said) == 2 and all(t.startswith("observe is falling behind") for t in said)
