"""The headless runner behind `python -m tui --headless`: run a scenario, print events, settle, exit.

Exit codes: 0 when every published message settled (a tap, or a scenario with producers: when its
time is up), 1 on a bug (its traceback on stderr), 2 on bad input (one line), 3 on timeout; 141 when
the reader closes stdout (core.closed_output). Never imports Textual.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from core.closed_output import write
from core.engine import Engine
from core.errors import InputError
from core.eventlog import describe
from core.events import BrokerStatus, FlowEvent, InternalError, Notice
from core.ledger import Ledger
from core.publishing import PublishError, PublishRequest
from core.runner import LoopError, LoopRunner
from core.script_run import ScriptRun
from core.text import bounded, json_line, one_line_visible, visible, visible_lines

EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT, EXIT_TIMEOUT = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
"""A tap or observe session ended by Ctrl+C (128 + SIGINT, as a shell reports it)."""
BATCH_SECONDS = 0.005
WINDOW = 10_000
"""--repeat messages handed to the producer while fewer than this many are unsettled. Made all at
once, a million requests (and the broker backlog they piled up ahead of the consumers) were most of a
run's memory. A small window made the producer wait on the reader's top-ups (throughput fell in
benchmarks/bench_throughput.py); at this size memory stays flat well under the issue's 50 MB and the
producer never runs dry (see benchmarks/bench_memory.py)."""


@dataclass
class HeadlessOptions:
    """What the CLI parsed for a headless run."""

    publish: list[str] = field(default_factory=list)
    repeat: int = 1
    body: Any = None
    play_script: bool = True
    timeout: float = 30.0
    as_json: bool = True
    exchange: str | None = None
    """Where --publish goes; None: the scenario's first exchange (the default exchange if none)."""


def run_headless(engine: Engine, options: HeadlessOptions, out: TextIO | None = None) -> int:
    """Run until every message settles or the timeout passes; print one line per event (to stdout
    as it is when called, when `out` is None)."""
    out = sys.stdout if out is None else out
    try:
        requests = _Requests(engine, options)
    except PublishError as exc:
        stderr_line(f"error: {exc}")
        return EXIT_BAD_INPUT
    expected = _Expected(len(engine.scenario.publishes) if options.play_script else 0, requests.total)
    _no_one_to_decide(engine)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=options.play_script)
    requests.top_up(settled=0)
    try:
        return _watch(engine, runner, expected, options, out, requests.top_up)
    finally:
        _join(runner)


def run_tap_headless(
    engine: Engine, timeout: float, as_json: bool, out: TextIO | None = None
) -> int:
    """Print tapped or observed traffic until `timeout`, then exit 0 (nothing of ours to settle)."""
    out = sys.stdout if out is None else out
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    # Observe delivers what it saw published: a ledger names each RECEIVED line's key.
    ledger = Ledger(engine.topology, keep=0, stories=False) if engine.observe is not None else None
    printer = HeadlessPrinter(as_json, out, ledger)  # nothing on stdout until the tap is up
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            engine.events.wait(0.05)
            failure = runner.first_error
            if (code := _failed(failure, printer.print(engine.events.drain()), printer)) is not None:
                return code
        printer.release()  # a tap that timed out still connecting shows how far it got
        return EXIT_OK
    except KeyboardInterrupt:  # Ctrl+C ends watching: no traceback, what the loops say last follows
        return EXIT_INTERRUPTED
    finally:
        _join(runner)
        printer.print(engine.events.drain())  # what the loops said while stopping (tracing off again)


def _no_one_to_decide(engine: Engine) -> None:
    """Headless, nobody can ack a manual consumer's messages by hand: it runs automatic, and says so."""
    for name, control in engine.controls.items():
        if control.manual.is_set():
            control.manual.clear()
            text = f"consumer {visible(name)} is manual in the scenario; headless, it runs automatic"
            engine.emit(Notice(level="warning", text=text))


SETTLE_AFTER_SCRIPT = 2.0
"""--run: seconds the run waits, once the program has ended, for the messages it left in flight."""


def run_script_headless(
    engine: Engine, script: ScriptRun, options: HeadlessOptions, out: TextIO | None = None
) -> int:
    """--run: print what the program does until it ends (and what it published settles, up to
    SETTLE_AFTER_SCRIPT), then exit with its exit code; 3 when --timeout passes first."""
    out = sys.stdout if out is None else out
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=options.play_script)
    ledger = Ledger(engine.topology, keep=0, stories=False)
    printer = HeadlessPrinter(options.as_json, out, ledger)
    deadline = time.monotonic() + options.timeout
    started = False
    try:
        while True:
            if not started and engine.declared.is_set():  # the broker listens: start the program
                script.start()
                started = True
            if engine.events.wait(0.05):
                time.sleep(BATCH_SECONDS)
            failure = runner.first_error
            if (code := _failed(failure, printer.print(engine.events.drain()), printer)) is not None:
                return code
            now = time.monotonic()
            if script.ended.is_set():
                ended = script.ended_at or now
                if ledger.all_settled or now - ended > SETTLE_AFTER_SCRIPT or now > deadline:
                    printer.release()
                    if script.error:  # its traceback is in the stream; the reason on stderr too
                        stderr_line(f"{script.name}: {script.error}")
                    return script.exit_code or 0
            elif now > deadline:
                printer.release()
                what = "the script is still running" if started else "the broker never came up"
                stderr_line(f"timeout after {options.timeout:g}s: {what}")
                return EXIT_TIMEOUT
    finally:
        script.stop()
        _join(runner)


def stderr_line(text: str) -> None:
    """One line on stderr: controls shown as escapes, at most core.text.MAX_LINE characters."""
    print(one_line_visible(text), file=sys.stderr, flush=True)


def _join(runner: LoopRunner) -> None:
    """Stop the loops; one that does not end within 2 s is said so (its daemon thread dies with us)."""
    runner.stop()
    if not runner.join(2.0):
        stderr_line(f"warning: still running 2s after stop: {', '.join(runner.running)}")


class _Requests:
    """The --publish keys times --repeat, made as the window opens (not all up front: see WINDOW).

    The first round is made at once: a bad key or exchange is refused before anything starts.
    """

    def __init__(self, engine: Engine, options: HeadlessOptions) -> None:
        self.engine = engine
        self.keys = options.publish
        self.body = options.body
        first = engine.topology.exchanges[0].name if engine.topology.exchanges else ""
        self.exchange = first if options.exchange is None else options.exchange
        self.total = options.repeat * len(self.keys)
        self.made = 0
        self._first: list[PublishRequest] = [self._make(i) for i in range(min(len(self.keys), self.total))]

    def _make(self, index: int) -> PublishRequest:
        n, which = divmod(index, len(self.keys))
        key = self.keys[which]
        return self.engine.make_request(self.exchange, key, _body(self.body, key, n))

    def top_up(self, settled: int) -> None:
        """Refill the window once a quarter of it is free, with the requests made first and handed
        over back to back: each hand-over can wake the producer, and one per settled message made
        the reader trade the GIL with it so often that its batches (and the run) slowed down."""
        room = min(self.total - self.made, WINDOW - (self.made - settled))
        if room <= 0 or (room < WINDOW // 4 and self.made + room < self.total):
            return
        first = self._first
        batch = [first[i] if i < len(first) else self._make(i) for i in range(self.made, self.made + room)]
        self.made += room
        if self.made >= len(first):
            self._first = []
        for request in batch:
            self.engine.enqueue(request)


def _body(body: Any, key: str, n: int) -> Any:
    return body if body is not None else {"key": key, "n": n}


def _no_key(_msg: str) -> str | None:
    """A tap runs no consumers: no RECEIVED line ever asks for a key."""
    return None


class HeadlessPrinter:
    """One line per event (JSON or the tutorial's log voice), held back until the broker first connects;
    says whether a bug was among the events.

    A broker that is never reached (wrong host, password or vhost) then shows as the one error line on
    stderr, not as status lines on stdout followed by it; once connected, the held lines come out first.
    With a ledger, each event is folded into it just before its line is made, so a RECEIVED line can
    name the key of a message that a later event of the same batch settles (and the ledger forgets).
    """

    def __init__(self, as_json: bool, out: TextIO, ledger: Ledger | None = None) -> None:
        self.as_json, self.out, self.ledger = as_json, out, ledger
        self.routing_key: Callable[[str], str | None] = ledger.routing_key if ledger else _no_key
        self._held: list[str] | None = []
        self.last_status: BrokerStatus | None = None
        """The broker's latest status, to say what it was doing when a run ends early."""

    @property
    def connected(self) -> bool:
        return self._held is None

    def print(self, events: Sequence[FlowEvent]) -> InternalError | None:
        lines: list[str] = []
        feed = self.ledger.feed if self.ledger is not None else None
        as_json, routing_key = self.as_json, self.routing_key
        for event in events:
            if feed is not None:
                feed(event)
            lines.append(
                json_line(event.to_json())
                if as_json
                else describe(event, routing_key)
            )
            if isinstance(event, BrokerStatus):
                self.last_status = event
                if self._held is not None and event.state == "connected":
                    lines, self._held = self._held + lines, None
        if self._held is not None:
            self._held.extend(lines)
        elif lines:
            write(self.out, "\n".join(lines) + "\n")
        return next((e for e in events if isinstance(e, InternalError)), None)

    def release(self) -> None:
        """Write what is held back without waiting for the connection (a run that ends anyway)."""
        if self._held:
            write(self.out, "\n".join(self._held) + "\n")
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
    engine: Engine,
    runner: LoopRunner,
    expected: _Expected,
    options: HeadlessOptions,
    out: TextIO,
    top_up: Callable[[int], None],
) -> int:
    # Headless never shows a finished message again: keep none (memory stays flat however many
    # messages run), and no per-copy stories (only the inspector reads those).
    ledger = Ledger(engine.topology, keep=0, stories=False)
    printer = HeadlessPrinter(options.as_json, out, ledger)
    deadline = time.monotonic() + options.timeout
    while True:
        if engine.events.wait(0.05):
            time.sleep(BATCH_SECONDS)  # let a batch build up: one drain per few ms, not per event
        failure = runner.first_error
        events = engine.events.drain()
        if (code := _failed(failure, printer.print(events), printer)) is not None:
            return code
        if events:
            top_up(ledger.published - ledger.in_flight)
        producing = bool(engine.producers.names)  # producers keep going: the run ends at --timeout
        if not producing and ledger.published >= expected.total and ledger.all_settled:
            return EXIT_OK
        if producing and time.monotonic() > deadline:
            return EXIT_OK
        if time.monotonic() > deadline:
            still = _still_open(ledger, expected, printer)
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


def _still_open(ledger: Ledger, expected: _Expected, printer: HeadlessPrinter) -> str:
    """What the run was still waiting for when time ran out, in words a user can act on."""
    status = printer.last_status
    if not printer.connected:
        if status is None:
            return "not connected to the broker yet"
        return f"not connected to {status.broker} yet ({status.state}: {status.detail})"
    pending = ledger.unsettled()
    published = ledger.published
    missing = expected.total - published
    if published == 0:
        parts = [_count(expected.script, "script step"), _count(expected.requests, "--publish message")]
        waiting = " and ".join(p for p in parts if p)
        return f"nothing was published yet ({waiting} pending)" if waiting else "nothing was published"
    shown = ", ".join(
        f"{m} ({bounded(repr(ledger.routing_key(m)), SHOWN_KEY)} open in "
        f"{bounded(', '.join(sorted(ledger.open_copies(m))), SHOWN_KEY) or 'routing'})"
        for m in pending[:SHOWN_UNSETTLED]
    )
    more = f" and {len(pending) - SHOWN_UNSETTLED} more" if len(pending) > SHOWN_UNSETTLED else ""
    not_yet = f"; {missing} not yet published" if missing > 0 else ""
    if not pending:
        return f"{_count(published, 'published message')} settled, none open{not_yet}"
    return f"{len(pending)} unsettled: {shown}{more}{not_yet}"


def _count(n: int, what: str) -> str:
    return "" if n == 0 else f"{n} {what}" + ("" if n == 1 else "s")
