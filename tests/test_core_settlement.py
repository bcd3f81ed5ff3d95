"""Settlement: a message is done when every routed copy is acked, dead-lettered, expired or dropped."""

from __future__ import annotations

import itertools

import pytest

from core.engine import MessageIds
from core.events import Acked, DeadLettered, Published, Rejected, Routed
from core.settlement import SettlementTracker


def published(msg: str) -> Published:
    return Published(msg=msg, exchange="x", routing_key="video.upload")


def routed(msg: str, *queues: str) -> Routed:
    return Routed(msg=msg, exchange="x", routing_key="video.upload", queues=tuple(queues))


def test_settles_when_every_copy_is_done() -> None:
    tracker = SettlementTracker()
    for event in (published("m"), routed("m", "audit", "video"), Acked(msg="m", queue="video", consumer="w")):
        tracker.feed(event)
    assert tracker.unsettled() == ["m"]
    tracker.feed(DeadLettered(msg="m", queue="audit", reason="rejected"))
    assert tracker.all_settled
    assert tracker.messages["m"].outcomes == {"video": "acked", "audit": "dead-lettered (rejected)"}


def test_ack_that_overtakes_the_routed_event_still_counts() -> None:
    # The producer thread may report routing after a fast consumer already acked the copy.
    tracker = SettlementTracker()
    tracker.feed(published("m"))
    tracker.feed(Acked(msg="m", queue="video", consumer="w"))
    tracker.feed(routed("m", "audit", "video"))
    assert tracker.messages["m"].open_copies == {"audit"}
    tracker.feed(Acked(msg="m", queue="audit", consumer="w"))
    assert tracker.all_settled


def test_unroutable_settles_at_once_and_requeue_does_not() -> None:
    tracker = SettlementTracker()
    tracker.feed(published("lost"))
    tracker.feed(routed("lost"))
    tracker.feed(published("retry"))
    tracker.feed(routed("retry", "q"))
    tracker.feed(Rejected(msg="retry", queue="q", consumer="w", action="requeue"))
    assert tracker.unsettled() == ["retry"]
    assert tracker.messages["lost"].outcomes == {"-": "unroutable"}


def test_message_ids_never_repeat_even_when_the_source_does(monkeypatch: pytest.MonkeyPatch) -> None:
    source = itertools.cycle(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb", "cccccccc"])
    monkeypatch.setattr("core.engine.new_message_id", lambda: next(source))
    ids = MessageIds()
    assert [ids.new() for _ in range(3)] == ["aaaaaaaa", "bbbbbbbb", "cccccccc"]
