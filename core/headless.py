"""The headless runner behind `python -m tui --headless`: run a scenario, print events, settle, exit.

Exit codes: 0 when every published message settled, 2 on bad input (one line), 3 on timeout.
Never imports Textual.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from core.engine import FlowEngine, PublishError, PublishRequest
from core.eventlog import describe
from core.ledger import Ledger

EXIT_OK, EXIT_BAD_INPUT, EXIT_TIMEOUT = 0, 2, 3
BATCH_SECONDS = 0.005
WINDOW = 2000
"""--repeat messages handed to the producer while fewer than this many are unsettled. Made all at
once, a million requests (and the broker backlog they piled up ahead of the consumers) were most of a
run's memory; this many in flight still keeps every consumer busy between two drains of the stream."""


@dataclass
class HeadlessOptions:
    """What the CLI parsed for a headless run."""

    publish: list[str] = field(default_factory=list)
    repeat: int = 1
    body: Any = None
    play_script: bool = True
    timeout: float = 30.0
    as_json: bool = True


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
    try:
        requests = _Requests(engine, options)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    expected = requests.total + (len(engine.scenario.publishes) if options.play_script else 0)
    threads = _Threads()
    threads.start("producer", lambda stop: engine.run_producer(stop, play_script=options.play_script))
    for consumer in engine.topology.consumers:
        threads.start(f"consumer-{consumer.name}", _consumer_target(engine, consumer.name))
    requests.top_up(settled=0)
    try:
        return _watch(engine, threads, expected, options, out, requests.top_up)
    finally:
        threads.join(2.0)


def _consumer_target(engine: FlowEngine, name: str) -> Callable[[Callable[[], bool]], None]:
    return lambda stop: engine.run_consumer(name, stop)


class _Requests:
    """The --publish keys times --repeat, made as the window opens (not all up front: see WINDOW).

    The first round is made at once: a bad key or exchange is refused before anything starts.
    """

    def __init__(self, engine: FlowEngine, options: HeadlessOptions) -> None:
        self.engine = engine
        self.keys = options.publish
        self.body = options.body
        self.exchange = engine.topology.exchanges[0].name if engine.topology.exchanges else ""
        self.total = options.repeat * len(self.keys)
        self.made = 0
        self._first: list[PublishRequest] = [self._make(i) for i in range(min(len(self.keys), self.total))]

    def _make(self, index: int) -> PublishRequest:
        n, which = divmod(index, len(self.keys))
        key = self.keys[which]
        return self.engine.make_request(self.exchange, key, _body(self.body, key, n))

    def top_up(self, settled: int) -> None:
        """Hand the producer more messages while fewer than WINDOW are out and unsettled."""
        while self.made < self.total and self.made - settled < WINDOW:
            first = self._first
            self.engine.enqueue(first[self.made] if self.made < len(first) else self._make(self.made))
            self.made += 1
        if self.made >= len(self._first):
            self._first = []


def _body(body: Any, key: str, n: int) -> Any:
    return body if body is not None else {"key": key, "n": n}


def _watch(
    engine: FlowEngine,
    threads: _Threads,
    expected: int,
    options: HeadlessOptions,
    out: TextIO,
    top_up: Callable[[int], None],
) -> int:
    # Headless never shows a finished message again: keep none (memory stays flat however many
    # messages run), and no per-copy stories (only the inspector reads those).
    ledger = Ledger(engine.topology, keep=0, stories=False)
    routing_key = ledger.routing_key
    deadline = time.monotonic() + options.timeout
    write = out.write
    while True:
        if engine.events.wait(0.05):
            time.sleep(BATCH_SECONDS)  # let a batch build up: one drain per few ms, not per event
        lines = []
        for event in engine.events.drain():
            ledger.feed(event)  # first, so a line can name the key of a message settled by this event
            if options.as_json:
                lines.append(json.dumps(event.to_json(), default=str, ensure_ascii=False))
            else:
                lines.append(describe(event, routing_key))
        if lines:
            write("\n".join(lines) + "\n")
            top_up(ledger.published - ledger.in_flight)
        if threads.errors:
            out.flush()
            print(f"error: {_one_line(threads.errors[0])}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if ledger.published >= expected and ledger.all_settled:
            out.flush()
            return EXIT_OK
        if time.monotonic() > deadline:
            out.flush()
            pending = ledger.unsettled()
            shown = ", ".join(
                f"{m} ({ledger.routing_key(m)!r} open in "
                f"{', '.join(sorted(ledger.open_copies(m))) or 'routing'})"
                for m in pending[:10]
            )
            missing = expected - ledger.published
            more = f"; {missing} not yet published" if missing > 0 else ""
            print(
                f"timeout after {options.timeout:g}s: {len(pending)} unsettled: {shown}{more}",
                file=sys.stderr,
            )
            return EXIT_TIMEOUT


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, ValueError) else text
