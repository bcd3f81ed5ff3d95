"""Bugs in the app's own threads reach the user: the broker's TTL timer and the UI's event waker
report through the event stream, and the app shows an error screen (never a fading toast)."""

from __future__ import annotations

from states import make_app, wait_for
from textual.pilot import Pilot
from textual.widgets import Static

from broker_support import fresh_url
from core.broker import get_broker, name_from_url
from core.events import EventStream, FlowEvent
from core.scenario import parse_scenario
from tui.app import QUIET_FRAMES, MqscopeApp
from tui.widgets.error_screen import ErrorScreen

NO_CONSUMERS = """
[[exchanges]]
name = "jobs"
type = "direct"
[[queues]]
name = "waiting"
bindings = [{ exchange = "jobs", routing_key = "k" }]
"""


def _app(url: str) -> MqscopeApp:
    return make_app(parse_scenario(NO_CONSUMERS, "jobs.toml"), broker=url, play_script=False)


async def _screen_text(pilot: Pilot[int], screen: ErrorScreen) -> str:
    """Every line the error screen shows, once its traceback widget is mounted."""
    await wait_for(pilot, lambda: bool(screen.query("#error-text")), "the traceback on screen")
    return "\n".join(str(static.render()) for static in screen.query(Static))


async def test_a_ttl_timer_failure_shows_the_error_screen_with_its_traceback() -> None:
    url = fresh_url()

    def breaks_on_expiry(event: FlowEvent) -> None:
        if event.kind == "expired":
            raise RuntimeError(f"listener bug on {event.msg}")

    get_broker(name_from_url(url)).subscribe(breaks_on_expiry)
    app = _app(url)
    async with app.run_test(size=(120, 36)) as pilot:
        msg = app.engine.publish("jobs", "k", {"n": 1}, expiration=0.05)
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error screen")
        screen = app.screen
        assert isinstance(screen, ErrorScreen)
        assert screen.error.where.endswith("-ttl")  # reported from the broker's TTL timer thread
        text = await _screen_text(pilot, screen)
        assert f"RuntimeError: listener bug on {msg}" in text
        assert "breaks_on_expiry" in text and "Traceback (most recent call last)" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorScreen)


class WaitBreaks(EventStream):
    """The engine's event stream, except that blocking on it (only the waker does) fails."""

    def wait(self, timeout: float) -> bool:
        raise RuntimeError("waiting on the stream failed")


async def test_a_dead_waker_is_reported_and_frames_keep_coming() -> None:
    app = _app(fresh_url())
    app.engine.events = WaitBreaks()  # the stream the loops put into and the waker waits on
    async with app.run_test(size=(120, 36)) as pilot:
        # once the broker is quiet the frame timer sleeps and the waker waits on the stream: it fails
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), "the error screen")
        screen = app.screen
        assert isinstance(screen, ErrorScreen)
        assert screen.error.where == "event waker"
        assert "RuntimeError: waiting on the stream failed" in await _screen_text(pilot, screen)
        await pilot.press("escape")
        # with no waker left the frame timer must not go back to sleep: new events still show
        await wait_for(pilot, lambda: app._quiet_frames > QUIET_FRAMES, "a quiet spell longer than a nap")
        app.engine.publish("jobs", "k", {"n": 1})
        await wait_for(pilot, lambda: app.ledger.published == 1, "the message after the waker died")
        assert app.ledger.queues["waiting"].routed == 1


async def test_a_refused_broker_is_a_one_line_notice_not_an_error_screen() -> None:
    """Bad input (nothing listens on loopback port 1) is told in one line; only bugs get the screen."""
    app = _app("amqp://guest:s3cret@127.0.0.1:1//")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(app._notifications), "the notification")
        texts = [n.message for n in app._notifications]
        assert any(t.startswith("cannot connect to amqp://guest:***@127.0.0.1:1//") for t in texts), texts
        assert not any("s3cret" in t for t in texts)
        assert not isinstance(app.screen, ErrorScreen) and app.error_screen is None
        runner = app.engine_workers.runner if app.engine_workers else None
        assert runner is not None and runner.first_error is not None
        assert runner.join(5.0), "the consumers stop with the producer that failed"
