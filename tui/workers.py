"""The engine's loops, and the event waker, run by core's LoopRunner on Textual thread workers.

The runner owns the policy (stop flag, join, first error, every other loop stopped when one fails);
Textual only provides the threads, so they show in the worker list and are cancelled with the app.
Each loop polls its stop check, so a cancel (quit, reset, scenario switch) ends it within ~0.1 s.
Nothing here touches a widget: errors go through the engine's event stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.worker import Worker, get_current_worker

from core.controls import StopCheck
from core.engine import Engine
from core.events import EventStream, InternalError
from core.runner import LoopError, LoopRunner, Spawn

GROUP = "engine"


def textual_spawn(app: App[Any], group: str, descriptions: dict[str, str]) -> Spawn:
    """A Spawn for LoopRunner: each loop a Textual thread worker whose cancel flag it polls."""

    def spawn(name: str, body: Callable[[StopCheck], None]) -> Callable[[], None]:
        def work() -> None:
            worker = get_current_worker()
            body(lambda: worker.is_cancelled)

        handle: Worker[None] = app.run_worker(
            work,
            name=name,
            group=group,
            description=descriptions.get(name, name),
            thread=True,
            exit_on_error=False,
        )
        return handle.cancel

    return spawn


class EngineWorkers:
    """Runs the engine's loops (producer and consumers, or the tap); stops and joins them."""

    def __init__(self, app: App[Any], engine: Engine, *, play_script: bool) -> None:
        self.engine = engine
        self.play_script = play_script
        descriptions = {"producer": "publishes the script and your messages", "tap": "watches the exchange"}
        descriptions |= {f"consumer:{c.name}": f"consumer {c.name}" for c in engine.topology.consumers}
        self.runner = LoopRunner(
            spawn=textual_spawn(app, GROUP, descriptions), on_error=engine.report_failure
        )

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
        app: App[Any],
        stream: Callable[[], EventStream],
        wake: Callable[[], object],
        on_failure: Callable[[], object] = lambda: None,
    ) -> None:
        self.stream = stream
        self.wake = wake
        self.on_failure = on_failure
        self.sleeping = threading.Event()
        self.runner = LoopRunner(spawn=textual_spawn(app, "waker", {}), on_error=self._failed)

    def start(self) -> None:
        self.runner.start("event waker", self._watch)

    def stop(self) -> None:
        self.runner.stop()

    def _watch(self, should_stop: StopCheck) -> None:
        while not should_stop():
            if not self.sleeping.wait(0.1):
                continue
            if self.stream().wait(0.1):
                self.sleeping.clear()
                self.wake()

    def _failed(self, failure: LoopError) -> None:
        report = InternalError(where=failure.loop, error=failure.summary, traceback=failure.traceback)
        self.stream().put(report)
        self.on_failure()
