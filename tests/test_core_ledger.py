"""The ledger: settlement, per-copy records, per-node counts, and the bound on finished records."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.controls import AttemptCounter
from core.engine import RECENT_IDS, MessageIds
from core.events import (
    RESENT,
    Acked,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    Notice,
    Published,
    Rejected,
    Requeued,
    Routed,
)
from core.ledger import KEEP_FINISHED, Ledger
from core.scenario import load_scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology

SEED = load_scenario("seed").topology
DEAD_LETTER = load_scenario("dead_letter").topology


def published(msg: str, exchange: str = "media_exchange") -> Published:
    return Published(msg=msg, exchange=exchange, routing_key="video.upload")


def routed(msg: str, *queues: str, exchange: str = "media_exchange") -> Routed:
    return Routed(msg=msg, exchange=exchange, routing_key="video.upload", queues=tuple(queues))


def fed(topology: Topology, events: list[FlowEvent], keep: int = KEEP_FINISHED) -> Ledger:
    ledger = Ledger(topology, keep=keep)
    ledger.feed_all(events)
    return ledger


# -- settlement ----------------------------------------------------------------------------------
def test_settles_when_every_copy_is_done() -> None:
    ledger = fed(
        SEED,
        [
            published("m"),
            routed("m", "audit_queue", "video_queue"),
            Acked(msg="m", queue="video_queue", consumer="worker"),
        ],
    )
    assert ledger.unsettled() == ["m"]
    ledger.feed(DeadLettered(msg="m", queue="audit_queue", reason="rejected"))
    assert ledger.all_settled
    assert ledger.fate("m") == {"video_queue": "acked", "audit_queue": "dead-lettered (rejected)"}


def test_ack_that_overtakes_the_routed_event_still_counts() -> None:
    # The producer thread may report routing after a fast consumer already acked the copy.
    ledger = fed(
        SEED,
        [
            published("m"),
            Delivered(msg="m", queue="video_queue", consumer="worker"),
            Acked(msg="m", queue="video_queue", consumer="worker"),
            routed("m", "audit_queue", "video_queue"),
        ],
    )
    assert ledger.open_copies("m") == {"audit_queue"}
    assert (ledger.queues["video_queue"].ready, ledger.queues["audit_queue"].ready) == (0, 1)
    story = ledger.records["m"].copies["video_queue"].steps or []
    assert [type(e) for e in story] == [Routed, Delivered, Acked]
    ledger.feed(Acked(msg="m", queue="audit_queue", consumer="worker"))
    assert ledger.all_settled


def test_unroutable_settles_at_once_and_requeue_does_not() -> None:
    ledger = fed(
        SEED,
        [
            published("lost"),
            routed("lost"),
            published("retry"),
            routed("retry", "audit_queue"),
            Delivered(msg="retry", queue="audit_queue", consumer="worker"),
            Rejected(msg="retry", queue="audit_queue", consumer="worker", action="requeue"),
            Requeued(msg="retry", queue="audit_queue"),
        ],
    )
    assert ledger.unsettled() == ["retry"]
    assert ledger.fate("lost") == {"-": "unroutable"}
    assert ledger.exchanges["media_exchange"].unroutable == 1


def test_a_dead_letter_copy_settles_its_origin_but_keeps_the_record_until_it_closes() -> None:
    events: list[FlowEvent] = [
        published("m", "orders"),
        routed("m", "orders_queue", exchange="orders"),
        Delivered(msg="m", queue="orders_queue", consumer="billing"),
        Rejected(msg="m", queue="orders_queue", consumer="billing", action="dead_letter"),
        DeadLettered(
            msg="m", queue="orders_queue", reason="rejected", exchange="orders.dlx", queues=("orders_dead",)
        ),
    ]
    ledger = fed(DEAD_LETTER, events, keep=0)
    assert ledger.all_settled  # the contract: dead-lettered counts as settled
    assert "m" in ledger.records  # but its copy in orders_dead is still open: not forgotten
    record = ledger.records["m"]
    dead = record.copies["orders_dead"]
    assert (dead.origin, dead.status) == ("orders_queue", "ready")
    assert ledger.queues["orders_dead"].ready == 1 and ledger.queues["orders_queue"].dead_lettered == 1
    ledger.feed_all(
        [
            Delivered(msg="m", queue="orders_dead", consumer="janitor"),
            Acked(msg="m", queue="orders_dead", consumer="janitor"),
        ]
    )
    assert "m" not in ledger.records and ledger.queues["orders_dead"].ready == 0


def test_expired_then_dead_lettered_keeps_the_first_outcome() -> None:
    ledger = fed(
        DEAD_LETTER,
        [
            published("m", "orders"),
            routed("m", "orders_queue", exchange="orders"),
            Expired(msg="m", queue="orders_queue"),
            DeadLettered(
                msg="m",
                queue="orders_queue",
                reason="expired",
                exchange="orders.dlx",
                queues=("orders_dead",),
            ),
        ],
    )
    assert ledger.fate("m") == {"orders_queue": "expired"}
    assert ledger.queues["orders_dead"].ready == 1 and ledger.all_settled


# -- the case that made the two folds disagree ------------------------------------------------------
def test_a_crash_requeues_the_copy_and_counts_it_once() -> None:
    ledger = fed(
        SEED,
        [
            published("m1"),
            routed("m1", "audit_queue"),
            Delivered(msg="m1", queue="audit_queue", consumer="worker"),
            ConsumerState(consumer="worker", state="crashed", detail="connection dropped"),
            Requeued(msg="m1", queue="audit_queue", reason="consumer crashed"),
        ],
    )
    worker, audit = ledger.consumers["worker"], ledger.queues["audit_queue"]
    assert (worker.requeued, worker.current, worker.state) == (1, None, "crashed")
    assert (audit.ready, audit.unacked, list(audit.waiting)) == (1, 0, ["m1"])
    assert ledger.records["m1"].copies["audit_queue"].describe == "ready"
    assert ledger.in_flight == 1


# -- bounded records ----------------------------------------------------------------------------------
def test_only_the_newest_finished_records_are_kept_and_unfinished_ones_never_go() -> None:
    keep = 50
    ledger = Ledger(SEED, keep=keep)
    for n in range(3):  # published first, never settled: must survive everything after them
        ledger.feed_all([published(f"open{n}"), routed(f"open{n}", "audit_queue")])
    for n in range(keep + 1000):
        m = f"done{n}"
        ledger.feed_all(
            [
                published(m),
                routed(m, "audit_queue"),
                Delivered(msg=m, queue="audit_queue", consumer="worker"),
                Acked(msg=m, queue="audit_queue", consumer="worker"),
            ]
        )
    finished = [m for m in ledger.records if m.startswith("done")]
    assert finished == [f"done{n}" for n in range(1000, keep + 1000)]
    assert [m for m in ledger.records if m.startswith("open")] == ["open0", "open1", "open2"]
    assert ledger.unsettled() == ["open0", "open1", "open2"]
    assert ledger.published == keep + 1003 and ledger.consumers["worker"].acked == keep + 1000


def test_message_ids_never_repeat_even_when_the_source_does(monkeypatch: pytest.MonkeyPatch) -> None:
    source = itertools.cycle(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb", "cccccccc"])
    monkeypatch.setattr("core.engine.new_message_id", lambda: next(source))
    ids = MessageIds()
    assert [ids.new() for _ in range(3)] == ["aaaaaaaa", "bbbbbbbb", "cccccccc"]


# -- property: random well-formed histories fold to consistent counts ---------------------------------
PROPERTY_TOPOLOGY = Topology(
    exchanges=(ExchangeSpec("x", "topic"), ExchangeSpec("dlx", "fanout")),
    queues=(
        QueueSpec("a", (BindingSpec("x", "#"),), dead_letter_exchange="dlx"),
        QueueSpec("b", (BindingSpec("x", "b.#"),)),
        QueueSpec("dead", (BindingSpec("dlx", ""),)),
    ),
    consumers=(
        ConsumerSpec("c1", ("a", "b"), prefetch=0),  # unlimited: counts are never capped here
        ConsumerSpec("c2", ("a", "b", "dead"), prefetch=0),
    ),
)
DLX_OF = {"a": ("dead",), "b": None, "dead": None}
"""Where each queue's dead letters go (None: no dead-letter exchange, the copy is dropped)."""


@dataclass
class Reference:
    """A plain simulation of the broker that emits events and says what should come out."""

    events: list[FlowEvent] = field(default_factory=list)
    ready: dict[tuple[str, str], None] = field(default_factory=dict)
    held: dict[tuple[str, str], str] = field(default_factory=dict)
    closed: int = 0
    copies: int = 0
    routed_open: dict[str, set[str]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)
    acked: int = 0
    order: list[str] = field(default_factory=list)

    def publish(self, msg: str, queues: tuple[str, ...]) -> None:
        self.events += [
            Published(msg=msg, exchange="x", routing_key="k"),
            Routed(msg=msg, exchange="x", routing_key="k", queues=queues),
        ]
        self.order.append(msg)
        self.routed_open[msg] = set(queues)
        self.outcomes[msg] = {} if queues else {"-": "unroutable"}
        for q in queues:
            self.ready[(msg, q)] = None
            self.copies += 1

    def close(self, copy: tuple[str, str], outcome: str) -> None:
        self.closed += 1
        msg, queue = copy
        if queue in self.routed_open[msg]:
            self.routed_open[msg].discard(queue)
            self.outcomes[msg][queue] = outcome

    def dead_letter(self, copy: tuple[str, str], reason: str) -> None:
        msg, queue = copy
        targets = DLX_OF[queue]
        if targets is None:
            self.events.append(Dropped(msg=msg, queue=queue, reason="no dead-letter exchange"))
            self.close(copy, "dropped (no dead-letter exchange)")
            return
        self.events.append(DeadLettered(msg=msg, queue=queue, reason=reason, exchange="dlx", queues=targets))
        self.close(copy, f"dead-lettered ({reason})")
        for target in targets:
            if (msg, target) not in self.ready and (msg, target) not in self.held:
                self.ready[(msg, target)] = None
                self.copies += 1

    def act(self, action: int, pick: int, consumer: str) -> None:
        ready, held = list(self.ready), list(self.held)
        if action == 0 or (not ready and not held):
            msg = f"m{len(self.order)}"
            self.publish(msg, (("a",), ("a", "b"), ("b",), ())[pick % 4])
        elif action == 1 and ready:  # deliver
            copy = ready[pick % len(ready)]
            del self.ready[copy]
            self.held[copy] = consumer
            self.events.append(Delivered(msg=copy[0], queue=copy[1], consumer=consumer))
        elif action == 2 and held:  # ack
            copy = held[pick % len(held)]
            who = self.held.pop(copy)
            self.events.append(Acked(msg=copy[0], queue=copy[1], consumer=who))
            self.acked += 1
            self.close(copy, "acked")
        elif action == 3 and held:  # reject: requeue, dead-letter or drop
            copy = held[pick % len(held)]
            who = self.held.pop(copy)
            how = ("requeue", "dead_letter", "drop")[pick % 3]
            self.events.append(Rejected(msg=copy[0], queue=copy[1], consumer=who, action=how))
            if how == "requeue":
                self.events.append(Requeued(msg=copy[0], queue=copy[1]))
                self.ready[copy] = None
            elif how == "dead_letter":
                self.dead_letter(copy, "rejected")
            else:
                self.close(copy, "dropped by consumer")
        elif action == 4 and held:  # the consumer crashes: all it held goes back
            victim = self.held[held[pick % len(held)]]
            self.events.append(ConsumerState(consumer=victim, state="crashed"))
            for copy in [c for c, who in self.held.items() if who == victim]:
                del self.held[copy]
                self.ready[copy] = None
                self.events.append(Requeued(msg=copy[0], queue=copy[1], reason="consumer crashed"))
            self.events.append(ConsumerState(consumer=victim, state="idle"))
        elif action == 5 and ready:  # TTL runs out
            copy = ready[pick % len(ready)]
            del self.ready[copy]
            self.events.append(Expired(msg=copy[0], queue=copy[1]))
            self.close(copy, "expired")
            msg, queue = copy
            if DLX_OF[queue] is not None:
                self.dead_letter_after_expiry(copy)

    def dead_letter_after_expiry(self, copy: tuple[str, str]) -> None:
        msg, queue = copy
        targets = DLX_OF[queue] or ()
        self.events.append(
            DeadLettered(msg=msg, queue=queue, reason="expired", exchange="dlx", queues=targets)
        )
        for target in targets:
            if (msg, target) not in self.ready and (msg, target) not in self.held:
                self.ready[(msg, target)] = None
                self.copies += 1

    def unsettled(self) -> list[str]:
        return [m for m in self.order if self.routed_open[m]]


histories = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 1000), st.sampled_from(["c1", "c2"])), max_size=120
)


@settings(max_examples=150, deadline=None)
@given(histories)
def test_random_histories_fold_to_consistent_counts(actions: list[tuple[int, int, str]]) -> None:
    ref = Reference()
    for action, pick, consumer in actions:
        ref.act(action, pick, consumer)
    everything = fed(PROPERTY_TOPOLOGY, ref.events, keep=10**9)
    tally = everything.tally()
    assert (tally.ready, tally.held, tally.closed) == (len(ref.ready), len(ref.held), ref.closed)
    assert tally.between == 0  # in a well-formed history every reject is resolved at once
    assert tally.total == ref.copies  # ready + unacked + settled copies = routed (and dead-lettered) copies
    for name, counts in everything.queues.items():
        assert counts.ready == sum(1 for _, q in ref.ready if q == name)
        assert list(counts.waiting) == [m for m, q in ref.ready if q == name]
        assert counts.unacked == sum(1 for _, q in ref.held if q == name)
    for name, counts in everything.consumers.items():
        assert sorted(counts.in_hand) == sorted(c for c, who in ref.held.items() if who == name)
    assert sum(c.acked for c in everything.consumers.values()) == ref.acked
    assert everything.unsettled() == ref.unsettled()
    assert {m: everything.fate(m) for m in ref.order} == ref.outcomes
    # Forgetting finished records changes none of the counts and never loses an open copy.
    forgetful = fed(PROPERTY_TOPOLOGY, ref.events, keep=0)
    assert forgetful.unsettled() == everything.unsettled()
    assert forgetful.queues == everything.queues and forgetful.consumers == everything.consumers
    assert forgetful.tally().ready + forgetful.tally().held == len(ref.ready) + len(ref.held)
    assert set(forgetful.records) == {m for m, r in everything.records.items() if r.open or not r.settled}


def test_default_ids_never_repeat_and_ids_remembered_stay_bounded() -> None:
    ids = MessageIds()
    drawn = [ids.new() for _ in range(3 * RECENT_IDS)]
    assert len(set(drawn)) == len(drawn) and all(len(i) == 8 for i in drawn)
    assert len(ids._recent) == RECENT_IDS


def test_attempts_are_counted_per_message_and_only_recent_ones_are_kept() -> None:
    attempts = AttemptCounter(remembered=3)
    assert [attempts.next("m1"), attempts.next("m1"), attempts.next("m2")] == [1, 2, 1]
    for other in ("a", "b"):
        attempts.next(other)
    assert attempts.next("m2") == 2  # m2 was delivered recently enough to be remembered
    for other in ("c", "d", "e"):
        attempts.next(other)
    assert attempts.next("m1") == 1  # three other messages since: forgotten, counted afresh


def test_deleting_a_queue_settles_what_waited_in_it_and_what_comes_back_to_it() -> None:
    """RabbitMQ says nothing about the copies a deleted queue held: the ledger closes them itself."""
    from core.events import TopologyChanged
    from core.topology import QueueSpec
    from core.topology_changes import declare, delete

    seed = load_scenario("seed").topology
    ledger = Ledger(seed)
    ledger.feed_all(
        [
            TopologyChanged(change=declare(QueueSpec("extra"))),
            Published(msg="a", exchange="media_exchange", routing_key="k"),
            Routed(msg="a", exchange="media_exchange", routing_key="k", queues=("extra",)),
            Published(msg="b", exchange="media_exchange", routing_key="k"),
            Routed(msg="b", exchange="media_exchange", routing_key="k", queues=("extra",)),
            Delivered(msg="b", queue="extra", consumer="worker"),
        ]
    )
    assert ledger.queues["extra"].ready == 1 and ledger.topology.queue("extra") is not None
    ledger.feed(TopologyChanged(change=delete(QueueSpec("extra"))))
    assert ledger.fate("a") == {"extra": "dropped (its queue was deleted)"}
    assert ledger.unsettled() == ["b"]  # in a consumer's hands: it settles when it comes back
    ledger.feed(Requeued(msg="b", queue="extra", reason="rejected"))
    assert ledger.fate("b") == {"extra": "dropped (its queue was deleted)"}
    assert ledger.all_settled and "extra" not in ledger.queues and ledger.topology.queue("extra") is None


def test_a_dead_letter_delivered_before_its_report_is_still_the_dead_letter_s_copy() -> None:
    """On RabbitMQ the rejecting consumer reports after the broker already handed the copy on."""
    ledger = Ledger(DEAD_LETTER)
    ledger.feed_all(
        [
            Published(msg="m", exchange="orders", routing_key="order.created"),
            Routed(msg="m", exchange="orders", routing_key="order.created", queues=("orders_queue",)),
            Delivered(msg="m", queue="orders_queue", consumer="billing"),
            Rejected(msg="m", queue="orders_queue", consumer="billing", action="dead_letter"),
            Delivered(msg="m", queue="orders_dead", consumer="janitor"),
            Acked(msg="m", queue="orders_dead", consumer="janitor"),
            DeadLettered(
                msg="m",
                queue="orders_queue",
                reason="rejected",
                exchange="orders.dlx",
                queues=("orders_dead",),
            ),
        ]
    )
    assert ledger.fate("m") == {"orders_queue": "dead-lettered (rejected)"}
    assert ledger.all_settled
    assert ledger.records["m"].copies["orders_dead"].origin == "orders_queue"


# -- at-least-once through an outage ---------------------------------------------------------------
def test_an_ack_lost_with_the_connection_reopens_the_copy_and_counts_it_once() -> None:
    ledger = fed(
        SEED,
        [
            published("m"),
            routed("m", "audit_queue"),
            Delivered(msg="m", queue="audit_queue", consumer="worker"),
            Acked(msg="m", queue="audit_queue", consumer="worker"),
        ],
    )
    assert ledger.all_settled
    # The ack went down with the connection: RabbitMQ gives the copy back, flagged redelivered.
    ledger.feed(Delivered(msg="m", queue="audit_queue", consumer="worker", redelivered=True))
    assert ledger.unsettled() == ["m"]
    assert ledger.open_copies("m") == {"audit_queue"}
    assert "audit_queue: ack lost with the connection: redelivered" in ledger.records["m"].notes
    ledger.feed(Acked(msg="m", queue="audit_queue", consumer="worker"))
    assert ledger.all_settled and ledger.quiet()
    assert ledger.fate("m") == {"audit_queue": "acked"}
    queue, worker = ledger.queues["audit_queue"], ledger.consumers["worker"]
    assert (ledger.published, queue.acked, queue.acks_lost, queue.duplicates) == (1, 1, 1, 0)
    assert (worker.acked, worker.processed) == (1, 2)  # one message acked, handled twice


def test_a_resent_publish_s_second_copy_is_a_duplicate_that_must_be_acked_too() -> None:
    # RabbitMQ: routing is predicted once; the resend announces nothing but the warning notice.
    ledger = fed(
        SEED,
        [
            published("m"),
            routed("m", "audit_queue", "video_queue"),
            Notice(msg="m", level="warning", text=RESENT),
            published("m"),  # a resend is never a second message
            Delivered(msg="m", queue="video_queue", consumer="worker"),
            Acked(msg="m", queue="video_queue", consumer="worker"),
        ],
    )
    assert ledger.unsettled() == ["m"] and ledger.open_copies("m") == {"audit_queue"}
    # The second copy in video_queue, after the first was acked: the message is open again.
    ledger.feed(Delivered(msg="m", queue="video_queue", consumer="worker"))
    assert ledger.unsettled() == ["m"]
    assert "video_queue: duplicate (resent)" in ledger.records["m"].notes
    ledger.feed(Acked(msg="m", queue="video_queue", consumer="worker"))
    assert ledger.open_copies("m") == {"audit_queue"}
    # The second copy in audit_queue, delivered while the first is still unacked: both need an ack.
    ledger.feed(Delivered(msg="m", queue="audit_queue", consumer="worker"))
    ledger.feed(Delivered(msg="m", queue="audit_queue", consumer="worker"))
    assert ledger.unsettled() == ["m"]
    assert ledger.consumers["worker"].in_hand == [("m", "audit_queue")] * 2
    ledger.feed(Acked(msg="m", queue="audit_queue", consumer="worker"))
    assert ledger.unsettled() == ["m"]  # one of the two copies is still in hand
    ledger.feed(Acked(msg="m", queue="audit_queue", consumer="worker"))
    assert ledger.all_settled and ledger.quiet()
    assert ledger.published == 1 and ledger.exchanges["media_exchange"].published == 1
    for name in ("audit_queue", "video_queue"):
        assert ledger.queues[name].acked == 1
    assert ledger.queues["video_queue"].duplicates == 1
    assert ledger.consumers["worker"].acked == 2
