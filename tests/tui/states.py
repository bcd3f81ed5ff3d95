"""Named app states shared by the snapshot tests and scripts/screenshots.py, so both show the same.

Each state builds an app on a built-in scenario at 4x speed with animations off, drives it with the
pilot, and settles on app state (every published message settled, queues empty), never on sleeps.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.pilot import Pilot
from textual.widgets import Input

from core.backends import DEFAULT_BROKER_URL
from core.backends.memory import reset_memory_transport
from core.broker import reset_brokers
from core.engine import Engine
from core.scenario import Scenario, load_scenario
from tui.app import MqscopeApp

SETTLE_TIMEOUT = 30.0


def counting_ids() -> Callable[[], str]:
    """A stand-in for core.engine.new_message_id: 00000001, 00000002, ... (same width)."""
    counter = itertools.count(1)
    return lambda: f"{next(counter):08d}"


def reset_broker_state() -> None:
    """Empty the process-wide brokers (mqscope:// and memory://) so no test sees another's queues."""
    reset_brokers()
    reset_memory_transport()


def make_app(
    scenario: str | Scenario = "seed", *, speed: float = 4.0, play_script: bool = True
) -> MqscopeApp:
    """The app on a built-in scenario (by name) or a scenario a test changed, on the default broker."""
    loaded = load_scenario(scenario) if isinstance(scenario, str) else scenario
    engine = Engine(loaded, DEFAULT_BROKER_URL, speed=speed)
    app = MqscopeApp(engine, play_script=play_script)
    app.animation_level = "none"
    return app


async def wait_for(pilot: Pilot[int], condition: Callable[[], bool], what: str) -> None:
    """Poll app state between frames until `condition` holds (generous timeout, then fail loudly)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def app_of(pilot: Pilot[int]) -> MqscopeApp:
    app = pilot.app
    assert isinstance(app, MqscopeApp)
    return app


async def settle(pilot: Pilot[int], published: int) -> None:
    """Until `published` messages went out and all of them settled, queues empty, consumers idle."""
    app = app_of(pilot)
    await wait_for(
        pilot,
        lambda: app.ledger.published >= published and app.ledger.quiet(),
        f"{published} published messages to settle",
    )
    await pilot.pause()


async def freeze_cursors(pilot: Pilot[int]) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False


async def type_text(pilot: Pilot[int], text: str) -> None:
    await pilot.press(*[c if c != " " else "space" for c in text])


# -- the states --------------------------------------------------------------------------------
async def seed_at_start(pilot: Pilot[int]) -> None:
    await freeze_cursors(pilot)
    await settle(pilot, published=2)


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
    await settle(pilot, published=4)


async def inspector_open(pilot: Pilot[int]) -> None:
    await seed_at_start(pilot)
    await type_text(pilot, "video.upload")
    await pilot.press("enter")
    await settle(pilot, published=3)
    await pilot.press("f1")
    await pilot.pause()


async def dead_letter_settled(pilot: Pilot[int]) -> None:
    """The dead_letter script's messages, each settled before the next (the script's own timing lets
    the janitor's acks race the next publishes in the log). The inspector shows message 2, rejected by
    billing and dead-lettered, copy by copy."""
    app = app_of(pilot)
    await freeze_cursors(pilot)
    await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
    for sent, step in enumerate(app.engine.scenario.publishes, start=1):
        app.engine.publish(step.exchange, step.routing_key, step.body, step.headers)
        await settle(pilot, published=sent)
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


@dataclass(frozen=True)
class SnapState:
    """One screenshot: a scenario, a terminal size and the pilot steps that reach the state."""

    name: str
    scenario: str
    size: tuple[int, int]
    steps: Callable[[Pilot[int]], Awaitable[None]]
    play_script: bool = True


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
    SnapState("message_in_hand", "dead_letter", (120, 36), message_in_hand, play_script=False),
]
STATE_BY_NAME = {s.name: s for s in STATES}
