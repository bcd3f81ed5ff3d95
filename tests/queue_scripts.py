"""Scripts for issue 13 items 1-4 and 8, each with the trace RabbitMQ 3.10.8 gave for it (measured on
the loopback node; the differential test checks both brokers still agree on every one).

A trace row is ("publish", body, ack|nack), ("get", queue, (body, redelivered, x-delivery-count,
x-death)), then (queue, [copies left, in delivery order]) per queue and for the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from queue_play import DEAD, Declare, Get, Publish, Script, Settle, Sleep


def pubs(queue: str, *bodies: str) -> list[Publish]:
    return [Publish(queue, b) for b in bodies]


def fresh(body: str) -> tuple[Any, ...]:
    return (body, False, None, [])


def dead(body: str, reason: str, queue: str = "qa_q", count: int = 1) -> tuple[Any, ...]:
    return (body, False, None, [(reason, queue, count)])


SCRIPTS: dict[str, tuple[Script, list[Any]]] = {
    # 1. x-overflow: the newest is refused (nack), the -dlx variant dead-letters it (maxlen)
    "reject_publish": (
        Script({"qa_q": {"x-max-length": 2, "x-overflow": "reject-publish"}}, pubs("qa_q", "a", "b", "c")),
        [
            ("publish", "a", "ack"),
            ("publish", "b", "ack"),
            ("publish", "c", "nack"),
            ("qa_q", [fresh("a"), fresh("b")]),
            (DEAD, []),
        ],
    ),
    "reject_publish_dlx": (
        Script(
            {"qa_q": {"x-max-length": 1, "x-overflow": "reject-publish-dlx"}},
            pubs("qa_q", "a", "b", "c"),
        ),
        [
            ("publish", "a", "ack"),
            ("publish", "b", "nack"),
            ("publish", "c", "nack"),
            ("qa_q", [fresh("a")]),
            (DEAD, [dead("b", "maxlen"), dead("c", "maxlen")]),
        ],
    ),
    "only_ready_count": (  # an unacked copy does not count; requeued, it makes the queue 2 long
        Script(
            {"qa_q": {"x-max-length": 1, "x-overflow": "reject-publish"}},
            [*pubs("qa_q", "a"), Get("qa_q", "hold"), *pubs("qa_q", "b", "c"), Settle("requeue")],
        ),
        [
            ("publish", "a", "ack"),
            ("get", "qa_q", fresh("a")),
            ("publish", "b", "ack"),
            ("publish", "c", "nack"),
            ("settle", "requeue"),
            ("qa_q", [("a", True, None, []), fresh("b")]),
            (DEAD, []),
        ],
    ),
    # 2. x-max-length-bytes (body bytes), alone and with x-max-length
    "bytes_drop_head": (
        Script({"qa_q": {"x-max-length-bytes": 10}}, pubs("qa_q", "aaaa", "bbbb", "cccc", "dd")),
        [
            *[("publish", b, "ack") for b in ("aaaa", "bbbb", "cccc", "dd")],
            ("qa_q", [fresh("bbbb"), fresh("cccc"), fresh("dd")]),
            (DEAD, [dead("aaaa", "maxlen")]),
        ],
    ),
    "bytes_reject_publish": (
        Script(
            {"qa_q": {"x-max-length-bytes": 10, "x-overflow": "reject-publish"}},
            pubs("qa_q", "aaaa", "bbbb", "cccc", "dd", ""),
        ),
        [
            ("publish", "aaaa", "ack"),
            ("publish", "bbbb", "ack"),
            ("publish", "cccc", "nack"),
            ("publish", "dd", "ack"),
            ("publish", "", "ack"),
            ("qa_q", [fresh("aaaa"), fresh("bbbb"), fresh("dd"), fresh("")]),
            (DEAD, []),
        ],
    ),
    "bytes_and_length": (
        Script(
            {"qa_q": {"x-max-length-bytes": 10, "x-max-length": 2}},
            pubs("qa_q", "a", "b", "c", "ddddddddddd"),
        ),
        [
            *[("publish", b, "ack") for b in ("a", "b", "c", "ddddddddddd")],
            ("qa_q", []),
            (
                DEAD,
                [
                    dead("a", "maxlen"),
                    dead("b", "maxlen"),
                    dead("c", "maxlen"),
                    dead("ddddddddddd", "maxlen"),
                ],
            ),
        ],
    ),
    # 3. per-message expiration with x-message-ttl (the lower wins); x-expires
    "ttl_lower_wins": (
        Script(
            {"qa_q": {"x-message-ttl": 200}, "qa_long": {"x-message-ttl": 60_000}},
            [
                Publish("qa_q", "long", expiration="60000"),
                Publish("qa_long", "short", expiration="100"),
                Publish("qa_long", "kept"),
                Sleep(0.8),
            ],
        ),
        [
            ("publish", "long", "ack"),
            ("publish", "short", "ack"),
            ("publish", "kept", "ack"),
            ("sleep",),
            ("qa_q", []),
            ("qa_long", [fresh("kept")]),
            (DEAD, [dead("short", "expired", "qa_long"), dead("long", "expired")]),
        ],
    ),
    "expires_unused": (  # the queue goes with its messages, none dead-lettered
        Script({"qa_q": {"x-expires": 300}}, [*pubs("qa_q", "a", "b"), Sleep(1.2)]),
        [("publish", "a", "ack"), ("publish", "b", "ack"), ("sleep",), ("qa_q", "gone"), (DEAD, [])],
    ),
    "expires_kept_by_use": (  # a redeclare and a basic.get each start its clock again
        Script(
            {"qa_q": {"x-expires": 1500}},
            [
                Publish("qa_q", "a"),
                Sleep(0.9),
                Declare("qa_q"),
                Sleep(0.9),
                Get("qa_q", "requeue"),
                Sleep(0.9),
            ],
        ),
        [
            ("publish", "a", "ack"),
            ("sleep",),
            ("declare", "qa_q"),
            ("sleep",),
            ("get", "qa_q", fresh("a")),
            ("sleep",),
            ("qa_q", [("a", True, None, [])]),
            (DEAD, []),
        ],
    ),
    # 4. priorities: capped, higher first; max-length drops the head (the highest); TTL per level
    "priority_order": (
        Script(
            {"qa_q": {"x-max-priority": 5}},
            [
                Publish("qa_q", "p0"),
                Publish("qa_q", "p3", 3),
                Publish("qa_q", "p9", 9),
                Publish("qa_q", "p5", 5),
                Publish("qa_q", "p1", 1),
                Get("qa_q", "requeue"),
                Get("qa_q", "ack"),
            ],
        ),
        [
            *[("publish", b, "ack") for b in ("p0", "p3", "p9", "p5", "p1")],
            ("get", "qa_q", fresh("p9")),
            ("get", "qa_q", ("p9", True, None, [])),
            ("qa_q", [fresh("p5"), fresh("p3"), fresh("p1"), fresh("p0")]),
            (DEAD, []),
        ],
    ),
    "priority_max_length": (
        Script(
            {"qa_q": {"x-max-priority": 5, "x-max-length": 2}},
            [
                Publish("qa_q", "p0"),
                Publish("qa_q", "p3", 3),
                Publish("qa_q", "p9", 9),
                Publish("qa_q", "p1", 1),
            ],
        ),
        [
            *[("publish", b, "ack") for b in ("p0", "p3", "p9", "p1")],
            ("qa_q", [fresh("p1"), fresh("p0")]),
            (DEAD, [dead("p9", "maxlen"), dead("p3", "maxlen")]),
        ],
    ),
    "priority_ttl_at_head": (
        Script(
            {"qa_q": {"x-max-priority": 5}},
            [Publish("qa_q", "p3", 3), Publish("qa_q", "p0", expiration="50"), Sleep(0.5)],
        ),
        [
            ("publish", "p3", "ack"),
            ("publish", "p0", "ack"),
            ("sleep",),
            ("qa_q", [fresh("p3")]),
            (DEAD, [dead("p0", "expired")]),
        ],
    ),
    "priority_ttl_only_at_head": (  # an expired copy behind a higher priority is dropped as maxlen
        Script(
            {"qa_q": {"x-max-length-bytes": 0, "x-max-priority": 1}},
            [Publish("qa_q", "", 1), Publish("qa_q", "", None, "0"), Publish("qa_q", "a")],
        ),
        [
            ("publish", "", "ack"),
            ("publish", "", "ack"),
            ("publish", "a", "ack"),
            ("qa_q", []),
            (DEAD, [dead("", "maxlen"), dead("", "maxlen"), dead("a", "maxlen")]),
        ],
    ),
    # 8. quorum queues: x-delivery-count on each delivery, dead-lettered past x-delivery-limit
    "quorum_delivery_limit": (
        Script(
            {"qa_q": {"x-queue-type": "quorum", "x-delivery-limit": 1}},
            [*pubs("qa_q", "a", "b"), Get("qa_q", "requeue"), Get("qa_q", "requeue"), Get("qa_q", "ack")],
        ),
        [
            ("publish", "a", "ack"),
            ("publish", "b", "ack"),
            ("get", "qa_q", ("a", False, 0, [])),
            ("get", "qa_q", ("a", True, 1, [])),
            ("get", "qa_q", ("b", False, 0, [])),
            ("qa_q", []),
            (DEAD, [dead("a", "delivery_limit")]),
        ],
    ),
    "quorum_overflow": (  # 3.10: reject-publish-dlx acts as drop-head; reject-publish once over
        Script(
            {
                "qa_q": {"x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "reject-publish-dlx"},
                "qa_r": {"x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "reject-publish"},
            },
            [*pubs("qa_q", "a", "b"), *pubs("qa_r", "c", "d", "e")],
        ),
        [
            ("publish", "a", "ack"),
            ("publish", "b", "ack"),
            ("publish", "c", "ack"),
            ("publish", "d", "ack"),
            ("publish", "e", "nack"),
            ("qa_q", [("b", False, 0, [])]),
            ("qa_r", [("c", False, 0, []), ("d", False, 0, [])]),
            (DEAD, [dead("a", "maxlen")]),
        ],
    ),
}

QUORUM_REFUSALS: list[tuple[dict[str, Any], dict[str, bool]]] = [
    ({"x-queue-type": "quorum"}, {"durable": False}),
    ({"x-queue-type": "quorum"}, {"exclusive": True}),
    ({"x-queue-type": "quorum"}, {"auto_delete": True}),
    ({"x-queue-type": "quorum", "x-max-priority": 5}, {}),
    ({"x-delivery-limit": 2}, {}),
    ({"x-overflow": "drop-tail"}, {}),
    ({"x-max-priority": 256}, {}),
    ({"x-expires": 0}, {}),
    ({"x-max-length": -1}, {}),
    ({"x-message-ttl": "5"}, {}),
]
"""Declarations RabbitMQ refuses (406 PRECONDITION_FAILED); mqscope:// refuses each in the same words."""
