"""Named app states shared by the snapshot tests and scripts/screenshots.py, so both show the same.

Each state builds an app with tui.testing.make_app (a built-in scenario at 4x speed, animations off,
ids 00000001...), drives it with the pilot, and settles on app state, never on sleeps. The helpers are
tui.testing's, the module teachers use; they are re-exported here for the tests that import them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import MqscopeApp
from tui.testing import (
    SETTLE_TIMEOUT,
    app_of,
    counting_ids,
    freeze_cursors,
    make_app,
    reset_broker_state,
    settle,
    type_text,
    wait_for,
)

__all__ = [
    "SETTLE_TIMEOUT",
    "STATES",
    "STATE_BY_NAME",
    "SnapState",
    "app_of",
    "counting_ids",
    "freeze_cursors",
    "make_app",
    "reset_broker_state",
    "settle",
    "type_text",
    "wait_for",
]


# -- the states --------------------------------------------------------------------------------
async def seed_at_start(pilot: Pilot[int]) -> None:
    await freeze_cursors(pilot)
    await settle(pilot)


async def lens_typing(pilot: Pilot[int]) -> None:
    await seed_at_start(pilot)
    await type_text(pilot, "video.up")
    await pilot.pause()


async def both_keys_published(pilot: Pilot[int]) -> None:
    await seed_at_start(pilot)
    for key in ("video.upload", "user.login"):
        await type_text(pilot, key)
        await pilot.press("enter")
        await pilot.press("ctrl+u")  # clear the input (readline-style) for the next key
    await settle(pilot)


async def inspector_open(pilot: Pilot[int]) -> None:
    await seed_at_start(pilot)
    await type_text(pilot, "video.upload")
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("f1")
    await pilot.pause()


async def dead_letter_settled(pilot: Pilot[int]) -> None:
    """The dead_letter script's messages, each settled before the next (the script's own timing lets
    the janitor's acks race the next publishes in the log). The inspector shows message 2, rejected by
    billing and dead-lettered, copy by copy."""
    app = app_of(pilot)
    await freeze_cursors(pilot)
    await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
    for step in app.engine.scenario.publishes:
        app.engine.publish(step.exchange, step.routing_key, step.body, step.headers)
        await settle(pilot)
    app.session_screen.inspect("message", "00000002")
    await pilot.pause()


async def invalid_key(pilot: Pilot[int]) -> None:
    await seed_at_start(pilot)
    app = app_of(pilot)
    app.screen.query_one("#routing-key", Input).value = "video." + "x" * 260
    await pilot.press("enter")
    await pilot.pause()


async def twelve_queues(pilot: Pilot[int]) -> None:
    """No script here: a prefetch-4 consumer on 12 queues acks copies in a varying order."""
    app = app_of(pilot)
    await freeze_cursors(pilot)
    await wait_for(pilot, lambda: app.ledger.consumers["pool"].state == "idle", "the pool consumer")
    await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
    await type_text(pilot, "eu.web.order")
    await pilot.pause()


async def edit_selection(pilot: Pilot[int]) -> None:
    """The diagram focused, a queue selected: its frame highlighted, the editing keys in the key bar."""
    await seed_at_start(pilot)
    app = app_of(pilot)
    app.session_screen.canvas.focus()
    await pilot.press("down", "right", "right")
    await pilot.pause()


async def edit_form(pilot: Pilot[int]) -> None:
    """The selected queue's form with a TTL the scenario rules refuse: the reason shows in place."""
    await edit_selection(pilot)
    app = app_of(pilot)
    await pilot.press("e")
    await wait_for(pilot, lambda: bool(app.screen.query("#message_ttl")), "the queue form")
    await pilot.pause()
    await freeze_cursors(pilot)
    field = app.screen.query_one("#message_ttl", Input)
    field.focus()
    await type_text(pilot, "-5")
    await pilot.pause()


async def message_in_hand(pilot: Pilot[int]) -> None:
    """billing is manual and holds order 1; the hand window offers ack, requeue, reject and drop."""
    from tui.widgets.hand_screen import HandScreen

    app = app_of(pilot)
    await freeze_cursors(pilot)
    await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
    consumers = app.ledger.consumers.values()
    await wait_for(pilot, lambda: all(c.state == "idle" for c in consumers), "both consumers subscribed")
    app.engine.controls["billing"].manual.set()
    msg = app.engine.publish("orders", "order.created", {"order": 1})
    billing = app.ledger.consumers["billing"]
    await wait_for(pilot, lambda: billing.state == "waiting" and billing.in_hand != [], "the held order")
    app.action_hand("billing")
    await wait_for(pilot, lambda: isinstance(app.screen, HandScreen) and app.screen.shown == msg, "hand")
    await pilot.pause()


async def presenter_typing_without_log(pilot: Pilot[int]) -> None:
    """The projector view: presenter theme, event log hidden (ctrl+l), a key being typed."""
    pilot.app.theme = "presenter"
    await lens_typing(pilot)
    await pilot.press("ctrl+l")
    await pilot.pause()


async def presenter_both_keys(pilot: Pilot[int]) -> None:
    pilot.app.theme = "presenter"
    await both_keys_published(pilot)


async def lesson_predict(pilot: Pilot[int]) -> None:
    """A lesson's predict step before the reveal: the lens's verdict hidden, the learner's marks on
    the diagram (step 1 of topic_hash asks about 'video.upload'; one queue marked: a wrong guess)."""
    from lesson_play import mark, ready

    await ready(pilot)
    await mark(pilot, {"video_queue"})
    await pilot.pause()


async def lesson_reveal(pilot: Pilot[int]) -> None:
    """The same step after Enter: the message published and settled, each queue explained, the lens
    word by word."""
    from lesson_play import lesson_app, routed

    await lesson_predict(pilot)
    await pilot.press("enter")
    app = lesson_app(pilot)
    await wait_for(pilot, lambda: routed(app), "the message to be routed")
    await settle(pilot, published=1)


BIG_VHOST = str(Path(__file__).resolve().parents[1] / "data" / "big_vhost.toml")
"""30 exchanges, 200 queues, 4 consumers (tests/data/make_big_vhost.py writes it)."""


async def big_vhost_at_rest(pilot: Pilot[int]) -> None:
    """The big vhost as it opens, the diagram focused (its keys in the key bar). The event log is
    hidden (ctrl+l): how its 430 declarations split into bursts depends on frame timing."""
    await freeze_cursors(pilot)
    await settle(pilot)
    app_of(pilot).session_screen.canvas.focus()
    await pilot.press("ctrl+l")
    await pilot.pause()


async def big_vhost_filtered_and_folded(pilot: Pilot[int]) -> None:
    """`/orders` Enter, then `i`: the queues named like orders and what routes to them, the idle ones
    of orders.events folded into one box; the bar says what is shown."""
    await big_vhost_at_rest(pilot)
    await pilot.press("slash")
    await type_text(pilot, "orders")
    await pilot.press("enter", "i")
    await pilot.pause()


@dataclass(frozen=True)
class SnapState:
    """One screenshot: a scenario, a terminal size and the pilot steps that reach the state."""

    name: str
    scenario: str
    size: tuple[int, int]
    steps: Callable[[Pilot[int]], Awaitable[None]]
    play_script: bool = True
    lesson: str | None = None
    """A built-in lesson to play (tui.lesson_app.LessonApp) instead of the scenario's plain app."""

    def app(self) -> MqscopeApp:
        """The app this state starts from (tui.testing.make_app, or a lesson's app)."""
        if self.lesson is not None:
            from lesson_play import make_lesson_app

            return make_lesson_app(self.lesson)
        return make_app(self.scenario, play_script=self.play_script)


STATES = [
    SnapState("seed_start", "seed", (120, 36), seed_at_start),
    SnapState("lens_typing", "seed", (120, 36), lens_typing),
    SnapState("both_keys", "seed", (120, 36), both_keys_published),
    SnapState("inspector", "seed", (120, 36), inspector_open),
    SnapState("invalid_key", "seed", (120, 36), invalid_key),
    SnapState("twelve", "twelve", (200, 50), twelve_queues, play_script=False),
    SnapState("small_80x24", "seed", (80, 24), lens_typing),
    # Each width says what fits on purpose (footer, status line, depth words): 80, 100 and 120 columns.
    SnapState("seed_100x30", "seed", (100, 30), seed_at_start),
    SnapState("inspector_120x40", "seed", (120, 40), inspector_open),
    SnapState("dead_letter_80x24", "dead_letter", (80, 24), dead_letter_settled, play_script=False),
    SnapState("dead_letter_120x40", "dead_letter", (120, 40), dead_letter_settled, play_script=False),
    SnapState("edit_selection", "seed", (120, 36), edit_selection),
    SnapState("edit_form", "seed", (120, 36), edit_form),
    SnapState("message_in_hand", "dead_letter", (120, 36), message_in_hand, play_script=False),
    SnapState("presenter_80x24", "seed", (80, 24), presenter_typing_without_log),
    SnapState("presenter_120x40", "seed", (120, 40), presenter_both_keys),
    SnapState("lesson_predict", "topic_hash", (120, 44), lesson_predict, lesson="topic_hash"),
    SnapState("lesson_reveal", "topic_hash", (120, 44), lesson_reveal, lesson="topic_hash"),
    SnapState("big_filter_120x40", BIG_VHOST, (120, 40), big_vhost_filtered_and_folded, play_script=False),
    SnapState("big_vhost_80x24", BIG_VHOST, (80, 24), big_vhost_at_rest, play_script=False),
]
STATE_BY_NAME = {s.name: s for s in STATES}
