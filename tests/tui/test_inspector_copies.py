"""The inspector shows what each copy carried when it was delivered: a dead-lettered copy's x-death
(count, reason, queue, time), x-delivery-count when the broker adds it, and AMQP properties."""

from __future__ import annotations

import asyncio
import re

from rich.text import Text
from states import make_app, settle
from textual.widgets import Static

from core.events import Delivered, Published, Routed
from core.ledger import Ledger
from core.scenario import load_scenario
from tui.widgets.inspector import message_text


def test_a_dead_lettered_copy_shows_its_x_death() -> None:
    asyncio.run(_dead_lettered())


async def _dead_lettered() -> None:
    app = make_app("dead_letter")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, published=3)
        failed = next(
            msg
            for msg, record in app.ledger.records.items()
            if any(copy.origin == "orders_queue" for copy in record.copies.values())
        )
        app.session_screen.inspect("message", failed)
        await pilot.pause()
        body = app.session_screen.inspector.query_one("#inspector-body", Static).content
        assert isinstance(body, Text)
        shown = body.plain
        assert re.search(
            r"orders_dead: acked\n(    · .*\n)+      x-death count 1, reason rejected, queue orders_queue, "
            r"time \d\d:\d\d:\d\d UTC\n",
            shown,
        ), shown
        before = shown.split("orders_dead:")[0]
        assert "x-death" not in before, "the copy in orders_queue was delivered without one"


def test_delivery_count_and_properties_of_a_copy() -> None:
    """x-delivery-count (a quorum queue's) and properties, as a RabbitMQ delivery carries them."""
    topology = load_scenario("seed").topology
    ledger = Ledger(topology, keep=10)
    ledger.feed(Published(msg="m1", exchange="media_exchange", routing_key="video.x", body={}, headers={}))
    ledger.feed(Routed(msg="m1", exchange="media_exchange", routing_key="video.x", queues=("video_queue",)))
    ledger.feed(
        Delivered(
            msg="m1",
            queue="video_queue",
            consumer="worker",
            headers={"x-delivery-count": 2, "trace": "abc"},
            properties={"priority": 5, "expiration": "500"},
        )
    )
    shown = message_text(ledger.records["m1"]).plain
    assert "      x-delivery-count 2\n" in shown
    assert "      properties expiration=500, priority=5\n" in shown
    assert '"trace": "abc"' in shown
