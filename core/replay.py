"""Replay a recording (`--replay FILE.jsonl`): its events back into an engine's stream, with no broker.

The replay source is the engine's one loop: it reads the recording line by line and puts each event
on the stream at its recorded spacing (the gaps between `ts`) divided by the speed the user sets
(0.25x to 4x, F7/F8), so every view (ledger, canvas, log, inspector, headless printer) plays it as it
played live. Each event is re-stamped with the replaying process's clock (`ts` is time.monotonic()
of whoever made the event; the recorded one means nothing in another process). Freeze (F5) holds
the replay before its next message or topology event; step (F6) lets exactly one through (status
events between them, queue depths and consumer states, pass on their own).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from kombu import Connection

from core.backends.base import Backend, Emit
from core.controls import TICK, Clock, StepGate, StopCheck
from core.engine import Engine, PublishError
from core.events import FlowEvent, Notice, TopologyChanged
from core.headless import EXIT_OK, HeadlessPrinter, _failed, _join  # headless's own exit policy
from core.ledger import Ledger
from core.publishing import PublishRequest
from core.recording import Recording
from core.runner import Loop, LoopRunner
from core.scenario import Scenario
from core.topology import Topology, TopologyError
from core.topology_changes import TopologyChange


def steps_on(event: FlowEvent) -> bool:
    """Whether a freeze holds this event back and a step lets it through: what a message does, and
    topology changes; status events (depths, consumer and broker states, notices) flow on."""
    return event.msg is not None or isinstance(event, TopologyChanged)


class ReplaySource:
    """Puts a recording's events on the stream at their recorded spacing, scaled by `clock`'s speed."""

    def __init__(
        self, recording: Recording, clock: Clock, gate: StepGate, emit: Emit, *, announce_end: bool
    ) -> None:
        self.recording = recording
        self.clock = clock
        self.gate = gate
        self.emit = emit
        self.announce_end = announce_end
        """Say on the stream when the recording is over (the app does; headless ends instead)."""
        self.played = 0
        self.skipped = 0
        self.steps_played = 0
        """Events played that a freeze holds and a step lets through (`steps_on`)."""
        self.finished = threading.Event()
        """Set once the last line was played (not when stopped early)."""
        self._position = 0.0
        """Recorded seconds since the first event that the replay has played through."""
        self._last = 0.0

    def run(self, should_stop: StopCheck) -> None:
        first: float | None = None
        latest = 0.0
        self._last = time.monotonic()
        for line in self.recording.lines():
            ts = line.ts
            if ts is not None:
                if first is None:
                    first = ts
                latest = max(latest, ts - first)  # threads stamp before they put: time only goes on
                if not self._wait_until(latest, should_stop):
                    return
                if line.steps and self.gate.paused:
                    if not self.gate.wait(should_stop):
                        return
                    self._last, self._position = time.monotonic(), latest  # no rush after a freeze
            event, skipped = line.event()  # built now: stamped with this moment
            if skipped:
                self.skipped += 1
            else:
                self.played += 1
                self.steps_played += 1 if steps_on(event) else 0
            if should_stop():
                return
            self.emit(event)
        self.finished.set()
        if self.announce_end:
            lines = f", {self.skipped} lines skipped" if self.skipped else ""
            text = f"replay of {self.recording.name} ended: {self.played} events played{lines}"
            self.emit(Notice(level="info", text=text))

    def _wait_until(self, offset: float, should_stop: StopCheck) -> bool:
        """Sleep until the replay's position reaches `offset` recorded seconds; False when stopped.
        The position advances by real time times the speed as it is at each tick (F7/F8 mid-gap
        take effect at once)."""
        while True:
            now = time.monotonic()
            speed = self.clock.speed
            self._position += (now - self._last) * speed
            self._last = now
            left = offset - self._position
            if left <= 0:
                return True
            if should_stop():
                return False
            time.sleep(min(left / speed, TICK))


class ReplayBackend(Backend):
    """Stands for the recorded broker on screen; it is never connected to."""

    name = "replay"

    def __init__(self, recording: Recording) -> None:
        super().__init__(f"replay:{recording.path}")
        self.recorded_broker = recording.header.broker

    def display_url(self) -> str:
        return self.recorded_broker  # masked when it was recorded

    def connection(self) -> Connection:
        raise RuntimeError("a replay contacts no broker")  # nothing in a replay asks: a bug if it does


class ReplayEngine(Engine):
    """An engine whose one loop is a ReplaySource: nothing is published, consumed or declared."""

    def __init__(self, recording: Recording, *, speed: float = 1.0, announce_end: bool = True) -> None:
        head = recording.header
        scenario = Scenario(
            name=f"REPLAY {Path(recording.name).name}: {head.scenario}",
            title=f"replay of {recording.name}, recorded {head.started} on {head.broker} ({head.mode})",
            topology=head.topology,
            publishes=(),
            source=recording.name,
        )
        super().__init__(scenario, "", speed=speed, backend=ReplayBackend(recording))
        self.recording = recording
        self.announce_end = announce_end
        self.controls.clear()  # nothing consumes: F2-F4 have no consumer to act on
        self.source = ReplaySource(recording, self.clock, self.gate, self.emit, announce_end=announce_end)
        self.refused = (
            f"a replay publishes and changes nothing: it plays {recording.name} (recorded on {head.broker})"
        )
        self.refusal = self.refused

    def loops(self, *, play_script: bool = True) -> list[tuple[str, Loop]]:
        return [("replay", self._run)]

    def _run(self, should_stop: StopCheck) -> None:
        self.declared.set()
        self.source.run(should_stop)

    def start(self, runner: LoopRunner, *, play_script: bool = True) -> None:
        runner.start_all(self.loops())
        self.producers.refuse(self.refused)

    def renewed(self, scenario: Scenario) -> Engine:
        """A reset plays the recording again from its start; another scenario leaves the replay for
        a live session on the in-process broker."""
        if scenario is self.scenario:
            engine = ReplayEngine(self.recording, speed=self.clock.speed, announce_end=self.announce_end)
            engine.events.tees.extend(self.events.tees)
            return engine
        return Engine(scenario, "mqscope://", speed=self.clock.speed, ids=self.id_source)

    def make_request(
        self,
        exchange: str,
        routing_key: str,
        body: Any = None,
        headers: Mapping[str, Any] | None = None,
        *,
        mandatory: bool = False,
        expiration: float | None = None,
        priority: int | None = None,
    ) -> PublishRequest:
        """Enter in the lens, a burst, a producer: refused in place with one line."""
        raise PublishError(self.refused)

    def change_topology_all(self, changes: Sequence[TopologyChange], *, origin: str = "app") -> Topology:
        raise TopologyError(self.refused)

    def topology_problem(self, changes: Sequence[TopologyChange]) -> str | None:
        return self.refused


def run_replay_headless(engine: ReplayEngine, as_json: bool, out: TextIO) -> int:
    """Print the recording's events as they are replayed (the same lines a live run printed, `ts`
    re-stamped) until its end; exit 0, or 1 on a bug in the replay itself."""
    runner = LoopRunner(on_error=engine.report_failure)
    ledger = Ledger(engine.topology, keep=0, stories=False)
    printer = HeadlessPrinter(as_json, out, ledger)
    printer.release()  # a recording's status lines are printed where they were, not held back
    engine.start(runner)
    try:
        while True:
            engine.events.wait(0.05)
            failure = runner.first_error
            events = engine.events.drain()
            printer.print(events)
            if (code := _failed(failure, None, printer)) is not None:
                return code
            if engine.source.finished.is_set() and not len(engine.events):
                return EXIT_OK
    finally:
        _join(runner)
