"""The engine's loops, and the event waker, each on a thread of its own (core's LoopRunner).

Not on Textual's thread workers: those share the event loop's default executor, min(32, cores + 4)
threads (six on two cores), and every loop here blocks for as long as it runs, so a scenario with
more loops than that (ten consumers) left the rest waiting forever, never started. The runner owns
the policy (stop flag, join, first error, every other loop stopped when one fails); the app stops and
joins the loops when it quits, resets or switches scenario, and each loop polls its stop check, so it
ends within ~0.1 s. The threads are daemons: none can keep the process alive. Nothing here touches a
widget: errors go through the engine's event stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.controls import StopCheck
from core.engine import Engine
from core.events import EventStream, InternalError
from core.runner import LoopError, LoopRunner


class EngineWorkers:
    """Runs the engine's loops (producer and consumers, or the tap); stops and joins them."""

    def __init__(self, engine: Engine, *, play_script: bool) -> None:
        self.engine = engine
        self.play_script = play_script
        self.runner = LoopRunner(on_error=engine.report_failure)

    def start(self) -> None:
        """Launch the producer and every consumer of the scenario (the tap alone in tap mode)."""
        self.engine.start(self.runner, play_script=self.play_script)

    def stop(self) -> None:
        """Ask every loop to stop (returns at once; the loops notice within a tick)."""
        self.runner.stop()

    def join(self, timeout: float = 2.0) -> bool:
        """Block until every loop thread has returned, or `timeout` passes; True when all did."""
        return self.runner.join(timeout)

    @property
    def running(self) -> bool:
        return bool(self.runner.running)


class EventWaker:
    """Lets the frame timer sleep while the broker is quiet: a thread blocks on the event stream and
    calls `wake` when events arrive again (once per quiet spell, not per event).

    If the waker fails, the failure goes onto the stream as an InternalError and `on_failure` is
    called, so the app stops relying on it (and shows the error) instead of never waking again.
    """

    def __init__(
        self,
        stream: Callable[[], EventStream],
        wake: Callable[[], object],
        on_failure: Callable[[], object] = lambda: None,
    ) -> None:
        self.stream = stream
        self.wake = wake
        self.on_failure = on_failure
        self.sleeping = threading.Event()
        self.runner = LoopRunner(on_error=self._failed)

    def start(self) -> None:
        self.runner.start("event waker", self._watch)

    def stop(self) -> None:
        self.runner.stop()

    def _watch(self, should_stop: StopCheck) -> None:
        while not should_stop():
            if not self.sleeping.wait(0.2):  # 0.2 s: quit stays prompt, idle wakes rarely
                continue
            if self.stream().wait(0.2):
                self.sleeping.clear()
                self.wake()

    def _failed(self, failure: LoopError) -> None:
        report = InternalError(where=failure.loop, error=failure.summary, traceback=failure.traceback)
        self.stream().put(report)
        self.on_failure()
