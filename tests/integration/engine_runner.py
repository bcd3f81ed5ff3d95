"""Run a Engine on a broker until every message settles, collecting its events (no UI, no mocks).

The same helper drives both sides of a differential test, so any difference is the broker's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection

from core.engine import Engine, PublishRequest
from core.events import Acked, Delivered, FlowEvent, Routed
from core.ledger import Ledger
from core.runner import LoopRunner
from core.scenario import Scenario
from core.topology import Topology


@dataclass
class Run:
    """What one engine run produced: every event, and the settlement view of them."""

    ledger: Ledger
    """Every record kept (keep is unbounded here: tests read the outcomes after the run)."""
    events: list[FlowEvent] = field(default_factory=list)

    def of(self, kind: type[FlowEvent]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def routed(self) -> dict[str, tuple[str, ...]]:
        """Message id -> queues of its first Routed event."""
        out: dict[str, tuple[str, ...]] = {}
        for e in self.of(Routed):
            out.setdefault(e.msg, e.queues)
        return out

    def outcomes(self) -> dict[str, dict[str, str]]:
        """Message id -> {queue or '-': outcome} of our published messages, as the ledger settled them."""
        return {m: r.fate() for m, r in self.ledger.records.items() if r.published}

    def acks(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for e in self.of(Acked):
            counts[(e.msg, e.queue)] = counts.get((e.msg, e.queue), 0) + 1
        return counts

    def deliveries(self) -> list[Delivered]:
        return self.of(Delivered)


class EngineRun:
    """The engine's loops under core's LoopRunner; `settle()` waits for every message to settle."""

    def __init__(self, engine: Engine, *, play_script: bool = False) -> None:
        self.engine = engine
        self.run = Run(ledger=Ledger(engine.topology, keep=sys.maxsize, stories=False))
        self.play_script = play_script
        self.runner = LoopRunner(on_error=engine.report_failure)

    def __enter__(self) -> EngineRun:
        self.engine.start(self.runner, play_script=self.play_script)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.runner.shutdown()
        self.drain()
        self.runner.raise_first_error()

    def drain(self) -> None:
        for event in self.engine.events.drain():
            self.run.events.append(event)
            self.run.ledger.feed(event)

    def wait_for(self, predicate: Callable[[Run], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.engine.events.wait(0.05)
            self.drain()
            self.runner.raise_first_error()
            if predicate(self.run):
                return True
        self.drain()
        return predicate(self.run)

    def settle(self, expected: int, timeout: float = 60.0) -> Run:
        """Wait until `expected` messages were published and all settled; fail with the open ones."""
        ok = self.wait_for(lambda r: r.ledger.published >= expected and r.ledger.all_settled, timeout)
        if not ok:
            ledger = self.run.ledger
            pending = {m: sorted(ledger.open_copies(m)) for m in ledger.unsettled()}
            raise AssertionError(
                f"not settled after {timeout}s: {ledger.published}/{expected} "
                f"published, open: {pending}"
            )
        return self.run

    def enqueue(self, requests: Iterable[PublishRequest]) -> None:
        for request in requests:
            self.engine.enqueue(request)


def reset_rabbit(url: str, topology: Topology) -> None:
    """Delete the scenario's queues and exchanges on RabbitMQ so each test starts from nothing."""
    with Connection(url) as conn:
        channel = conn.channel()
        for queue in topology.queues:
            channel.queue_delete(queue.name)
        for exchange in topology.exchanges:
            channel.exchange_delete(exchange.name)


def run_scenario(
    scenario: Scenario,
    url: str,
    publishes: list[tuple[str, str, Any, dict[str, Any]]],
    *,
    timeout: float = 60.0,
    speed: float = 4.0,
    setup: Callable[[Engine], None] | None = None,
    until: Callable[[Run], bool] | None = None,
) -> Run:
    """Publish (exchange, key, body, headers) on `url`; return once all settled (and `until` holds).

    `until` waits for follow-ups that happen after a copy settles, e.g. a dead-lettered copy being
    delivered from the dead-letter queue.
    """
    engine = Engine(scenario, url, speed=speed)
    if setup is not None:
        setup(engine)
    requests = [engine.make_request(ex, key, body, headers) for ex, key, body, headers in publishes]
    with EngineRun(engine) as running:
        running.enqueue(requests)
        run = running.settle(len(requests), timeout)
        if until is not None:
            assert running.wait_for(until, timeout), "settled, but the follow-up never happened"
        return run
