"""The headless runner behind `python -m tui --headless`: run a scenario, print events, settle, exit.

Exit codes: 0 when every published message settled, 2 on bad input (one line), 3 on timeout.
Never imports Textual.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from core.engine import FlowEngine, PublishError, PublishRequest
from core.eventlog import EventPrinter
from core.settlement import SettlementTracker

EXIT_OK, EXIT_BAD_INPUT, EXIT_TIMEOUT = 0, 2, 3
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


@dataclass(frozen=True)
class _Expected:
    """How many messages the run publishes: the scenario's script steps and the --publish requests."""

    script: int
    requests: int

    @property
    def total(self) -> int:
        return self.script + self.requests


class _Threads:
    """Plain threads for the producer and each consumer; the first crash is kept to report it."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def start(self, name: str, target: Callable[[Callable[[], bool]], None]) -> None:
        def run() -> None:
            try:
                target(self.stop.is_set)
            except BaseException as exc:  # reported by the main thread as one line
                self.errors.append(exc)
                self.stop.set()

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self, seconds: float) -> None:
        self.stop.set()
        deadline = time.monotonic() + seconds
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def run_headless(engine: FlowEngine, options: HeadlessOptions, out: TextIO = sys.stdout) -> int:
    """Run until every message settles or the timeout passes; print one line per event."""
    exchange = engine.topology.exchanges[0].name if engine.topology.exchanges else ""
    try:
        requests = [
            engine.make_request(exchange, key, _body(options.body, key, n))
            for n in range(options.repeat)
            for key in options.publish
        ]
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    expected = _Expected(len(engine.scenario.publishes) if options.play_script else 0, len(requests))
    threads = _Threads()
    threads.start("producer", lambda stop: engine.run_producer(stop, play_script=options.play_script))
    for consumer in engine.topology.consumers:
        threads.start(f"consumer-{consumer.name}", _consumer_target(engine, consumer.name))
    _enqueue(engine, requests)
    try:
        return _watch(engine, threads, expected, options, out)
    finally:
        threads.join(2.0)


def _consumer_target(engine: FlowEngine, name: str) -> Callable[[Callable[[], bool]], None]:
    return lambda stop: engine.run_consumer(name, stop)


def _enqueue(engine: FlowEngine, requests: list[PublishRequest]) -> None:
    for request in requests:
        engine.enqueue(request)


def _body(body: Any, key: str, n: int) -> Any:
    return body if body is not None else {"key": key, "n": n}


def _watch(
    engine: FlowEngine, threads: _Threads, expected: _Expected, options: HeadlessOptions, out: TextIO
) -> int:
    tracker = SettlementTracker()
    printer = EventPrinter(out, options.as_json)
    deadline = time.monotonic() + options.timeout
    while True:
        if engine.events.wait(0.05):
            time.sleep(BATCH_SECONDS)  # let a batch build up: one drain per few ms, not per event
        events = engine.events.drain()
        for event in events:
            tracker.feed(event)
        printer.write(events)
        if threads.errors:
            out.flush()
            print(f"error: {_one_line(threads.errors[0])}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if len(tracker.messages) >= expected.total and tracker.all_settled:
            out.flush()
            return EXIT_OK
        if time.monotonic() > deadline:
            out.flush()
            still = _still_open(tracker, expected, printer)
            print(f"timeout after {options.timeout:g}s: {still}", file=sys.stderr)
            return EXIT_TIMEOUT


SHOWN_UNSETTLED = 10


def _still_open(tracker: SettlementTracker, expected: _Expected, printer: EventPrinter) -> str:
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
        f"{m} ({tracker.messages[m].routing_key!r} open in "
        f"{', '.join(sorted(tracker.messages[m].open_copies)) or 'routing'})"
        for m in pending[:SHOWN_UNSETTLED]
    )
    more = f" and {len(pending) - SHOWN_UNSETTLED} more" if len(pending) > SHOWN_UNSETTLED else ""
    not_yet = f"; {missing} not yet published" if missing > 0 else ""
    if not pending:
        return f"{_count(published, 'published message')} settled, none open{not_yet}"
    return f"{len(pending)} unsettled: {shown}{more}{not_yet}"


def _count(n: int, what: str) -> str:
    return "" if n == 0 else f"{n} {what}" + ("" if n == 1 else "s")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, ValueError) else text
