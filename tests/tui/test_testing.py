"""tui.testing as a teacher uses it: ids in publish order, fates read from the ledger, clear failures."""

from __future__ import annotations

import pytest

from core.events import Acked, Delivered, Dropped, Expired, Published, Requeued, Returned, Routed
from core.ledger import Ledger
from core.scenario import load_scenario
from tui.testing import EXCHANGE, ledger_outcomes, make_app, outcomes, publish, settle, wait_for


async def test_outcomes_name_each_copy_and_its_fate_in_publish_order() -> None:
    """The dead_letter script: an ack, a reject dead-lettered into orders_dead, an unroutable key,
    and whatever the rest of the script meets, each message under its own id in publish order."""
    app = make_app("dead_letter")
    async with app.run_test() as pilot:
        await settle(pilot)
    fates = outcomes(app)
    assert list(fates) == [f"{n:08d}" for n in range(1, len(app.engine.scenario.publishes) + 1)]
    assert fates["00000001"] == {"orders_queue": "acked"}
    assert fates["00000002"] == {"orders_queue": "dead_lettered", "orders_dead": "acked"}
    assert fates["00000003"] == {EXCHANGE: "unroutable"}


async def test_publish_types_key_and_body_and_returns_the_id() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test() as pilot:
        first = await publish(pilot, "video.upload", {"file": "a.mp4"})
        second = await publish(pilot, "user.login", '{"user": "ada"}')
        await settle(pilot)
    assert (first, second) == ("00000001", "00000002")
    records = app.ledger.records
    assert (records[first].routing_key, records[first].body) == ("video.upload", {"file": "a.mp4"})
    assert (records[second].routing_key, records[second].body) == ("user.login", {"user": "ada"})
    assert outcomes(app) == {
        first: {"video_queue": "acked", "audit_queue": "acked"},
        second: {"audit_queue": "acked"},
    }


async def test_a_refused_publish_fails_with_the_lens_reason() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test() as pilot:
        with pytest.raises(AssertionError, match="255"):
            await publish(pilot, "video." + "x" * 260)
        assert app.ledger.published == 0


async def test_settle_fails_naming_what_did_not_settle() -> None:
    """A paused consumer never takes the message: settle gives up with the message's id."""
    app = make_app("seed", play_script=False)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.ledger.consumers["worker"].state == "paused", "the pause")
        msg = await publish(pilot, "user.login")
        with pytest.raises(AssertionError, match=f"unsettled: {msg}"):
            await settle(pilot, timeout=1.0)
        assert outcomes(app) == {msg: {"audit_queue": "ready"}}


def test_every_word_outcomes_uses_from_a_fed_ledger() -> None:
    """Each fate word, from events as the broker reports them (the same fold the app's ledger runs)."""
    ledger = Ledger(load_scenario("seed").topology)
    q, x, key = "audit_queue", "media_exchange", "k"
    for n, extra in enumerate(
        [
            [Delivered(msg="m1", queue=q, consumer="worker"), Acked(msg="m1", queue=q, consumer="worker")],
            [Delivered(msg="m2", queue=q, consumer="worker"), Requeued(msg="m2", queue=q, reason="crashed")],
            [Expired(msg="m3", queue=q)],
            [Dropped(msg="m4", queue=q, reason="overflow")],
            [Delivered(msg="m5", queue=q, consumer="worker")],
            [],
        ],
        start=1,
    ):
        msg = f"m{n}"
        ledger.feed(Published(msg=msg, exchange=x, routing_key=key))
        ledger.feed(Routed(msg=msg, exchange=x, routing_key=key, queues=(q,)))
        ledger.feed_all(extra)
    ledger.feed(Published(msg="m7", exchange=x, routing_key=key))
    ledger.feed(Routed(msg="m7", exchange=x, routing_key=key, queues=()))
    ledger.feed(Published(msg="m8", exchange=x, routing_key=key))
    ledger.feed(Returned(msg="m8", exchange=x, routing_key=key))
    assert ledger_outcomes(ledger) == {
        "m1": {q: "acked"},
        "m2": {q: "requeued"},
        "m3": {q: "expired"},
        "m4": {q: "dropped"},
        "m5": {q: "unacked"},
        "m6": {q: "ready"},
        "m7": {EXCHANGE: "unroutable"},
        "m8": {EXCHANGE: "returned"},
    }
