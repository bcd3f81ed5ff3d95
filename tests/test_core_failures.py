"""A bug is exit 1 with its traceback; bad input stays one line and exit 2 (headless and CLI).

The bugs here are real failures reached through real seams: a loop's explicit dependency that
raises, and a listener on the in-process broker that raises while the broker reports a step.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from broker_support import fresh_url
from core.broker import get_broker, name_from_url
from core.engine import Engine
from core.events import FlowEvent
from core.headless import EXIT_BAD_INPUT, EXIT_BUG, HeadlessOptions, run_headless, run_tap_headless
from core.publishing import PublishRequest, RequestQueue
from core.scenario import load_scenario
from core.tap import TapSpec, tap_scenario
from tui.cli import main


class BrokenRequests(RequestQueue):
    """The producer's request queue, failing the way a bug would: not bad input."""

    def take(self, timeout: float | None) -> PublishRequest | None:
        raise RuntimeError("the request queue is broken")


def _events(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_loop_dependency_that_raises_is_exit_1_with_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = Engine(load_scenario("seed"), fresh_url(), speed=4.0)
    engine.requests = BrokenRequests()
    out = io.StringIO()
    # One message expected: with none, the run would count as settled before the producer fails.
    options = HeadlessOptions(publish=["video.upload"], play_script=False, timeout=20.0)
    code = run_headless(engine, options, out)
    err = capsys.readouterr().err
    assert code == EXIT_BUG
    assert "internal error in producer" in err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: the request queue is broken" in err
    assert "in take" in err  # the frame that raised, not a one-line summary
    errors = [e for e in _events(out) if e["event"] == "error"]
    assert [(e["where"], e["error"]) for e in errors] == [
        ("producer", "RuntimeError: the request queue is broken")
    ]
    assert "BrokenRequests" in errors[0]["traceback"] or "in take" in errors[0]["traceback"]


def test_a_broker_listener_that_raises_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = fresh_url()

    def breaks_on_routing(event: FlowEvent) -> None:
        if event.kind == "routed":
            raise KeyError("listener bug")

    get_broker(name_from_url(url)).subscribe(breaks_on_routing)
    out = io.StringIO()
    code = run_headless(Engine(load_scenario("seed"), url, speed=4.0), HeadlessOptions(timeout=20.0), out)
    err = capsys.readouterr().err
    assert code == EXIT_BUG
    assert "breaks_on_routing" in err and "KeyError: 'listener bug'" in err
    assert any(e["event"] == "error" for e in _events(out))


def test_a_refused_broker_is_still_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens on port 1 of loopback: bad input, not a bug, even though a loop found out."""
    engine = Engine(load_scenario("seed"), "amqp://guest:s3cret@127.0.0.1:1//", speed=4.0)
    code = run_headless(engine, HeadlessOptions(timeout=20.0), io.StringIO())
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: cannot connect to amqp://guest:***@127.0.0.1:1//")
    assert len(err.strip().splitlines()) == 1 and "s3cret" not in err and "Traceback" not in err


def test_cli_internal_error_exit_1_with_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI in this process, on a named in-process broker with a listener that raises."""
    url = fresh_url()

    def breaks_on_routing(event: FlowEvent) -> None:
        if event.kind == "routed":  # a ValueError, yet a bug: only InputError is bad input
            raise ValueError(f"listener bug on {event.msg}")

    get_broker(name_from_url(url)).subscribe(breaks_on_routing)
    code = main(["--headless", "--json", "--broker", url, "--speed", "4", "--timeout", "20"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback (most recent call last)" in captured.err
    assert "ValueError: listener bug on" in captured.err
    assert not captured.err.startswith("error:")  # a bug is never dressed up as bad input
    assert '"event": "error"' in captured.out


def test_a_tap_that_cannot_connect_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """The tap is a loop of its own under the same runner and the same bad-input rule."""
    spec = TapSpec("media_exchange", "topic")
    engine = Engine(tap_scenario(spec, None), "amqp://guest:s3cret@127.0.0.1:1//")
    engine.tap = spec
    assert [name for name, _loop in engine.loops()] == ["tap"]
    code = run_tap_headless(engine, timeout=20.0, as_json=True, out=io.StringIO())
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: cannot tap via amqp://guest:***@127.0.0.1:1//")
    assert len(err.strip().splitlines()) == 1 and "s3cret" not in err
