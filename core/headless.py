"""The headless runner behind `python -m tui --headless`: run a scenario, print events, settle, exit.

Exit codes: 0 when every published message settled (a tap: when its time is up), 1 on a bug (its
traceback on stderr), 2 on bad input (one line), 3 on timeout. Never imports Textual.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from core.engine import FlowEngine
from core.errors import InputError
from core.eventlog import describe
from core.events import BrokerStatus, FlowEvent, InternalError
from core.publishing import PublishError
from core.runner import LoopError, LoopRunner
from core.settlement import SettlementTracker
from core.text import bounded, json_line, one_line_visible, visible_lines

EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT, EXIT_TIMEOUT = 0, 1, 2, 3
BATCH_SECONDS = 0.005


@dataclass
class HeadlessOptions:
    """What the CLI parsed for a headless run."""

    publish: list[str] = field(default_factory=list)
    repeat: int = 1
    body: Any = None
    play_script: bool = True
    timeout: float = 30.0
    as_json: bool = True


def run_headless(engine: FlowEngine, options: HeadlessOptions, out: TextIO | None = None) -> int:
    """Run until every message settles or the timeout passes; print one line per event (to stdout
    as it is when called, when `out` is None)."""
    out = sys.stdout if out is None else out
    exchange = engine.topology.exchanges[0].name if engine.topology.exchanges else ""
    try:
        requests = [
            engine.make_request(exchange, key, _body(options.body, key, n))
            for n in range(options.repeat)
            for key in options.publish
        ]
    except PublishError as exc:
        stderr_line(f"error: {exc}")
        return EXIT_BAD_INPUT
    expected = _Expected(len(engine.scenario.publishes) if options.play_script else 0, len(requests))
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=options.play_script)
    for request in requests:
        engine.enqueue(request)
    try:
        return _watch(engine, runner, expected, options, out)
    finally:
        _join(runner)


def run_tap_headless(
    engine: FlowEngine, timeout: float, as_json: bool, out: TextIO | None = None
) -> int:
    """Print tapped traffic until `timeout`, then exit 0 (a tap has nothing to settle)."""
    out = sys.stdout if out is None else out
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    printer = HeadlessPrinter(as_json, out)  # nothing on stdout until the tap is up
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            engine.events.wait(0.05)
            failure = runner.first_error
            if (code := _failed(failure, printer.print(engine.events.drain()), printer)) is not None:
                return code
        printer.release()  # a tap that timed out still connecting shows how far it got
        return EXIT_OK
    finally:
        _join(runner)


def stderr_line(text: str) -> None:
    """One line on stderr: controls shown as escapes, at most core.text.MAX_LINE characters."""
    print(one_line_visible(text), file=sys.stderr, flush=True)


def _join(runner: LoopRunner) -> None:
    """Stop the loops; one that does not end within 2 s is said so (its daemon thread dies with us)."""
    runner.stop()
    if not runner.join(2.0):
        stderr_line(f"warning: still running 2s after stop: {', '.join(runner.running)}")


def _body(body: Any, key: str, n: int) -> Any:
    return body if body is not None else {"key": key, "n": n}


class HeadlessPrinter:
    """One line per event (JSON or the tutorial's log voice), held back until the broker first connects;
    says whether a bug was among the events.

    A broker that is never reached (wrong host, password or vhost) then shows as the one error line on
    stderr, not as status lines on stdout followed by it; once connected, the held lines come out first.
    """

    def __init__(self, as_json: bool, out: TextIO) -> None:
        self.as_json, self.out = as_json, out
        self.keys: dict[str, str] = {}
        self._held: list[str] | None = []
        self.last_status: BrokerStatus | None = None
        """The broker's latest status, to say what it was doing when a run ends early."""

    @property
    def connected(self) -> bool:
        return self._held is None

    def print(self, events: Sequence[FlowEvent]) -> InternalError | None:
        lines: list[str] = []
        for event in events:
            lines.append(
                json_line(event.to_json())
                if self.as_json
                else describe(event, self.keys)
            )
            if isinstance(event, BrokerStatus):
                self.last_status = event
                if self._held is not None and event.state == "connected":
                    lines, self._held = self._held + lines, None
        if self._held is not None:
            self._held.extend(lines)
        elif lines:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()
        return next((e for e in events if isinstance(e, InternalError)), None)

    def release(self) -> None:
        """Write what is held back without waiting for the connection (a run that ends anyway)."""
        if self._held:
            self.out.write("\n".join(self._held) + "\n")
            self.out.flush()
        self._held = None


def _failed(
    failure: LoopError | None, bug: InternalError | None, printer: HeadlessPrinter
) -> int | None:
    """The exit code when a loop failed or a thread reported a bug; None while all is well.

    Bad input is one line and exit 2; anything else is a bug: exit 1 with its traceback. `failure`
    is read before the batch is drained: the runner reports a failure (engine.report_failure puts
    its InternalError on the stream) before it records it, so that batch holds the report.
    """
    if bug is not None:
        printer.release()  # a bug: everything that led up to it is worth seeing
        print(visible_lines(f"internal error in {bug.where}:\n{bug.traceback or bug.error}"), file=sys.stderr)
        return EXIT_BUG
    if failure is None:
        return None
    if isinstance(failure.error, InputError):
        stderr_line(f"error: {failure.summary}")
        return EXIT_BAD_INPUT
    printer.release()
    print(visible_lines(f"internal error in {failure.loop}:\n{failure.traceback}"), file=sys.stderr)
    return EXIT_BUG


def _watch(
    engine: FlowEngine, runner: LoopRunner, expected: _Expected, options: HeadlessOptions, out: TextIO
) -> int:
    tracker = SettlementTracker()
    printer = HeadlessPrinter(options.as_json, out)
    deadline = time.monotonic() + options.timeout
    while True:
        if engine.events.wait(0.05):
            time.sleep(BATCH_SECONDS)  # let a batch build up: one drain per few ms, not per event
        failure = runner.first_error
        events = engine.events.drain()
        for event in events:
            tracker.feed(event)
        if (code := _failed(failure, printer.print(events), printer)) is not None:
            return code
        if len(tracker.messages) >= expected.total and tracker.all_settled:
            return EXIT_OK
        if time.monotonic() > deadline:
            still = _still_open(tracker, expected, printer)
            stderr_line(f"timeout after {options.timeout:g}s: {still}")
            return EXIT_TIMEOUT


@dataclass(frozen=True)
class _Expected:
    """How many messages the run publishes: the scenario's script steps and the --publish requests."""

    script: int
    requests: int

    @property
    def total(self) -> int:
        return self.script + self.requests


SHOWN_UNSETTLED = 3
"""Unsettled messages named in the timeout line; the rest are counted (the line stays under MAX_LINE)."""
SHOWN_KEY = 40


def _still_open(tracker: SettlementTracker, expected: _Expected, printer: HeadlessPrinter) -> str:
    """What the run was still waiting for when time ran out, in words a user can act on."""
    status = printer.last_status
    if not printer.connected:
        if status is None:
            return "not connected to the broker yet"
        return f"not connected to {status.broker} yet ({status.state}: {status.detail})"
    pending = tracker.unsettled()
    published = len(tracker.messages)
    missing = expected.total - published
    if published == 0:
        parts = [_count(expected.script, "script step"), _count(expected.requests, "--publish message")]
        waiting = " and ".join(p for p in parts if p)
        return f"nothing was published yet ({waiting} pending)" if waiting else "nothing was published"
    shown = ", ".join(
        f"{m} ({bounded(repr(tracker.messages[m].routing_key), SHOWN_KEY)} open in "
        f"{bounded(', '.join(sorted(tracker.messages[m].open_copies)), SHOWN_KEY) or 'routing'})"
        for m in pending[:SHOWN_UNSETTLED]
    )
    more = f" and {len(pending) - SHOWN_UNSETTLED} more" if len(pending) > SHOWN_UNSETTLED else ""
    not_yet = f"; {missing} not yet published" if missing > 0 else ""
    if not pending:
        return f"{_count(published, 'published message')} settled, none open{not_yet}"
    return f"{len(pending)} unsettled: {shown}{more}{not_yet}"


def _count(n: int, what: str) -> str:
    return "" if n == 0 else f"{n} {what}" + ("" if n == 1 else "s")
