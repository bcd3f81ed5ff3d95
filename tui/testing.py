"""Pilot tests of mqscope for everyone: build the app, publish through the lens, wait, read what happened.

A teacher's test needs no internals. `make_app` builds the app the way mqscope's own tests do
(animations off, message ids 00000001, 00000002, ... in publish order, an empty in-process broker);
`publish` types into the routing lens like a learner; `settle` waits on the app's ledger (never on a
clock) until every message the app published is settled; `outcomes` reads the ledger back as plain
dicts. With mqscope installed, its pytest plugin (tui.pytest_plugin) runs `async def` tests as written:

    from tui.testing import make_app, outcomes, publish, settle

    async def test_video_reaches_both_queues():
        app = make_app("seed", play_script=False)
        async with app.run_test() as pilot:
            msg = await publish(pilot, "video.upload")
            await settle(pilot)
        assert outcomes(app)[msg] == {"video_queue": "acked", "audit_queue": "acked"}
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from core.backends import DEFAULT_BROKER_URL
from core.backends.memory import reset_memory_transport
from core.broker import reset_brokers
from core.broker.registry import get_broker, name_from_url
from core.engine import Engine
from core.events import Requeued
from core.ledger import Ledger
from core.records import CLOSED, EXCHANGE, HELD, READY
from core.scenario import Scenario, load_scenario
from tui.app import MqscopeApp

__all__ = [
    "EXCHANGE",
    "SETTLE_TIMEOUT",
    "app_of",
    "counting_ids",
    "freeze_cursors",
    "ledger_outcomes",
    "make_app",
    "outcomes",
    "publish",
    "reset_broker_state",
    "settle",
    "type_text",
    "wait_for",
]

SETTLE_TIMEOUT = 30.0
"""Seconds `settle` and `wait_for` give the app before failing (generous: a loaded CI machine)."""

OUTCOMES = ("acked", "requeued", "dead_lettered", "expired", "dropped", "unroutable", "returned")
"""The words `outcomes` uses for a copy that is done (or, for requeued, back in its queue)."""


def counting_ids() -> Callable[[], str]:
    """An id source for Engine: 00000001, 00000002, ... (as wide as the real ids)."""
    counter = itertools.count(1)
    return lambda: f"{next(counter):08d}"


def reset_broker_state() -> None:
    """Empty every in-process broker (mqscope:// and memory://) of this process."""
    reset_brokers()
    reset_memory_transport()


def _empty_broker(url: str) -> None:
    """Start on an empty broker: the in-process ones live as long as the process, across tests."""
    scheme = urlsplit(url).scheme
    if scheme == "mqscope":
        get_broker(name_from_url(url)).reset()
    elif scheme == "memory":
        reset_memory_transport()


def make_app(
    scenario: str | Scenario = "seed",
    *,
    broker: str | None = None,
    speed: float = 4.0,
    play_script: bool = True,
) -> MqscopeApp:
    """The app on `scenario` (a built-in name, a TOML path, or a Scenario) for a pilot test.

    `broker` defaults to the in-process mqscope:// broker, emptied first (an amqp:// RabbitMQ is
    used as it is). Animations are off and message ids count from 00000001 in publish order.
    `play_script=False` skips the scenario's own publishes. Run it with `app.run_test()`.
    """
    loaded = load_scenario(scenario) if isinstance(scenario, str) else scenario
    url = broker or DEFAULT_BROKER_URL
    _empty_broker(url)
    engine = Engine(loaded, url, speed=speed, ids=counting_ids())
    app = MqscopeApp(engine, play_script=play_script)
    app.animation_level = "none"
    return app


def app_of(pilot: Pilot[Any]) -> MqscopeApp:
    """The pilot's app, as an MqscopeApp (a clear failure when it is some other app)."""
    app = pilot.app
    assert isinstance(app, MqscopeApp), f"not an mqscope app: {type(app).__name__}"
    return app


async def wait_for(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = SETTLE_TIMEOUT
) -> None:
    """Let the app run, frame by frame, until `condition()` holds; AssertionError naming `what`
    after `timeout` seconds. The condition reads app state, so nothing here depends on timing."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.02)


def _all_settled(app: MqscopeApp) -> bool:
    """Every message the engine took is published and settled, the script (if played) is through,
    queues are empty and no consumer is mid-message (the ledger's `quiet`)."""
    engine, ledger = app.engine, app.ledger
    script_done = not app.play_script or engine.script_played >= len(engine.scenario.publishes)
    return script_done and ledger.published >= engine.ids.issued and ledger.quiet()


async def settle(pilot: Pilot[Any], published: int = 0, *, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until every message published so far (the script's and yours) is settled: acked
    everywhere it was routed, dead-lettered, expired, dropped, unroutable or returned.
    `published`: also wait until at least that many went out (a message sent another way)."""
    app = app_of(pilot)

    def unsettled() -> str:
        ids = app.ledger.unsettled()
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        return f"every message to settle (unsettled: {shown or 'none yet published'})"

    try:
        await wait_for(
            pilot,
            lambda: app.ledger.published >= published and _all_settled(app),
            "every message to settle",
            timeout,
        )
    except AssertionError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {unsettled()}") from None
    await pilot.pause()  # let the frame that showed it be drawn


async def type_text(pilot: Pilot[Any], text: str) -> None:
    """Type `text` key by key into whatever has the focus."""
    await pilot.press(*[c if c != " " else "space" for c in text])


async def freeze_cursors(pilot: Pilot[Any]) -> None:
    """Stop the inputs' cursors blinking, so screenshots of the same state are the same."""
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False


async def _fill(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Empty the field and paste `text` into it, as a terminal delivers a paste (one event, so a
    256-byte key takes no longer than a short one); the field reacts as to any paste."""
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    if text:
        field.post_message(events.Paste(text))
    await pilot.pause()


async def publish(pilot: Pilot[Any], key: str, body: Any = None) -> str:
    """Put `key` (and `body`, as JSON, or the JSON text itself when a str) into the routing lens, as
    a paste, and press Enter, as a learner would; returns the new message's id. A publish the lens
    refuses is an AssertionError with the lens's reason."""
    app = app_of(pilot)
    before = app.engine.ids.issued
    text = "" if body is None else body if isinstance(body, str) else json.dumps(body)
    await _fill(pilot, "#message-body", text)
    await _fill(pilot, "#routing-key", key)
    await pilot.press("enter")
    await pilot.pause()
    if app.engine.ids.issued == before or app.engine.ids.last is None:
        problem = app.screen.query_one("#lens-problem").render()
        raise AssertionError(f"the lens did not publish {key!r}: {problem}")
    return app.engine.ids.last


def _word(outcome: str) -> str:
    """The ledger's outcome text ('dead-lettered (rejected)', 'dropped by consumer') as one word."""
    if outcome.startswith("dead-lettered"):
        return "dead_lettered"
    if outcome.startswith("dropped"):
        return "dropped"
    return outcome


def _open_word(copy_status: str, requeued: bool) -> str:
    if copy_status == READY:
        return "requeued" if requeued else "ready"
    return "unacked" if copy_status == HELD else "pending"


def outcomes(app: MqscopeApp) -> dict[str, dict[str, str]]:
    """Per message id, in publish order: each queue a copy of it reached, and what became of it.

    Words: acked, dead_lettered, expired, dropped (by its consumer, or its queue deleted), and for a
    message no queue took, `{EXCHANGE: "unroutable"}` or `{EXCHANGE: "returned"}` (EXCHANGE is "-").
    A copy still in play reads requeued (back in its queue after a requeue), ready, or unacked.
    A requeued copy acked later reads acked. Copies a dead-letter exchange made are listed too,
    under their own queue. Read it after `settle` to assert on fates.
    """
    return ledger_outcomes(app.ledger)


def ledger_outcomes(ledger: Ledger) -> dict[str, dict[str, str]]:
    """`outcomes` of any ledger (the app's, or one a test fed events itself)."""
    result: dict[str, dict[str, str]] = {}
    for msg, record in ledger.records.items():
        if not record.published:
            continue
        fates: dict[str, str] = {}
        for queue, copy in record.copies.items():
            if copy.status == CLOSED and copy.outcome is not None:
                fates[queue] = _word(copy.outcome)
            elif queue != EXCHANGE:
                steps = copy.steps or []
                fates[queue] = _open_word(copy.status, bool(steps) and isinstance(steps[-1], Requeued))
        result[msg] = fates
    return result
