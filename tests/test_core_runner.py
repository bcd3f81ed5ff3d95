"""core.runner (start, stop, join, first error) and core.reconnect (one backoff policy), on real
threads and real connections."""

from __future__ import annotations

import threading
import time

import pytest

from broker_support import WAIT, fresh_url
from core.backends import BrokerUrlError, backend_for
from core.controls import StopCheck
from core.reconnect import BackoffPolicy, Reconnect
from core.runner import Loop, LoopError, LoopRunner


def until_stopped(started: threading.Event) -> Loop:
    def loop(should_stop: StopCheck) -> None:
        started.set()
        while not should_stop():
            time.sleep(0.01)

    return loop


def test_loops_run_until_stopped_and_join() -> None:
    runner = LoopRunner()
    started = [threading.Event(), threading.Event()]
    runner.start("a", until_stopped(started[0]))
    runner.start("b", until_stopped(started[1]))
    assert all(s.wait(WAIT) for s in started)
    assert sorted(runner.running) == ["a", "b"] and not runner.stopping
    assert runner.join(WAIT)
    assert runner.running == [] and runner.first_error is None


def test_the_first_error_is_kept_reported_and_stops_the_other_loops() -> None:
    reported: list[LoopError] = []
    runner = LoopRunner(on_error=reported.append)
    started = threading.Event()
    runner.start("steady", until_stopped(started))
    assert started.wait(WAIT)

    def broken(_should_stop: StopCheck) -> None:
        raise ZeroDivisionError("a bug")

    runner.start("broken", broken)
    assert runner.wait_stopping(WAIT), "a failed loop must stop the others"
    assert runner.join(WAIT)
    error = runner.first_error
    assert error is not None and reported == [error]
    assert error.loop == "broken" and error.summary == "ZeroDivisionError: a bug"
    assert "Traceback (most recent call last)" in error.traceback and "in broken" in error.traceback
    with pytest.raises(RuntimeError, match="loop 'broken' failed") as raised:
        runner.raise_first_error()
    assert isinstance(raised.value.__cause__, ZeroDivisionError)


def test_a_loop_that_ignores_stop_is_an_error_not_a_leak() -> None:
    release = threading.Event()
    runner = LoopRunner()

    def stubborn(_should_stop: StopCheck) -> None:
        release.wait()

    runner.start("stubborn", stubborn)
    with pytest.raises(RuntimeError, match="stubborn"):
        runner.shutdown(timeout=0.05)
    release.set()
    assert runner.join(WAIT)


def test_loop_names_are_unique() -> None:
    runner = LoopRunner()
    runner.start("once", lambda _s: None)
    with pytest.raises(ValueError, match="already started"):
        runner.start("once", lambda _s: None)
    assert runner.join(WAIT)


def test_backoff_doubles_up_to_its_cap() -> None:
    delays = BackoffPolicy(start=0.2, factor=2.0, cap=2.0).delays()
    assert [next(delays) for _ in range(6)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_a_broker_that_never_answers_is_bad_input_after_the_first_tries() -> None:
    """Nothing listens on loopback port 1: three refused tries, each reported, then one line."""
    retries: list[tuple[str, float, bool]] = []
    supervisor = Reconnect(
        backend_for("amqp://guest:s3cret@127.0.0.1:1//"),
        lambda exc, delay, connected: retries.append((type(exc).__name__, delay, connected)),
        policy=BackoffPolicy(start=0.01, cap=0.02, first_tries=3),
        unreachable=lambda why: BrokerUrlError(f"cannot connect: {why}"),
    )
    with pytest.raises(BrokerUrlError, match="cannot connect") as raised:
        supervisor.run(lambda _conn: None, lambda: False)
    assert "s3cret" not in str(raised.value)
    assert [(d, c) for _, d, c in retries] == [(0.01, False), (0.02, False)]


def test_a_lost_connection_is_retried_and_a_bug_is_not() -> None:
    url = fresh_url()
    retries: list[tuple[BaseException, float, bool]] = []
    supervisor = Reconnect(
        backend_for(url), lambda *args: retries.append(args), policy=BackoffPolicy(start=0.01)
    )
    sessions: list[object] = []

    def drops_once(conn: object) -> None:
        sessions.append(conn)
        if len(sessions) == 1:
            raise ConnectionResetError("the broker went away")

    supervisor.run(drops_once, lambda: False)
    assert len(sessions) == 2 and sessions[0] is not sessions[1], "a fresh connection each time"
    assert [(type(e).__name__, d, c) for e, d, c in retries] == [("ConnectionResetError", 0.01, True)]

    def buggy(_conn: object) -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        supervisor.run(buggy, lambda: False)
    assert len(retries) == 1, "a bug is never retried"
