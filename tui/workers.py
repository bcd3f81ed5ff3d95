"""The producer and the consumers as Textual thread workers, with handles kept so they can be stopped.

Each loop runs core's blocking kombu code on its own thread and polls the worker's cancel flag, so a
cancel (quit, reset, scenario switch) ends it within ~0.1 s. Nothing here touches a widget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.worker import Worker, get_current_worker

from core.engine import FlowEngine
from core.events import EventStream

GROUP = "engine"


class EngineWorkers:
    """Starts one thread worker for the producer and one per consumer; stops and joins them."""

    def __init__(self, app: App[Any], engine: FlowEngine, *, play_script: bool) -> None:
        self.app = app
        self.engine = engine
        self.play_script = play_script
        self.handles: dict[str, Worker[None]] = {}
        self._finished: dict[str, threading.Event] = {}
        self._stop = threading.Event()

    def start(self) -> None:
        """Launch the producer and every consumer of the scenario."""
        self._launch(
            "producer",
            "publishes the script and your messages",
            lambda stop: self.engine.run_producer(stop, play_script=self.play_script),
        )
        for spec in self.engine.topology.consumers:
            self._launch(
                f"consumer:{spec.name}",
                f"consumer {spec.name}",
                _consumer_target(self.engine, spec.name),
            )

    def _launch(self, name: str, description: str, target: Callable[[Callable[[], bool]], None]) -> None:
        finished = threading.Event()
        stop = self._stop

        def work() -> None:
            worker = get_current_worker()
            try:
                target(lambda: stop.is_set() or worker.is_cancelled)
            finally:
                finished.set()

        self._finished[name] = finished
        self.handles[name] = self.app.run_worker(
            work,
            name=name,
            group=GROUP,
            description=description,
            thread=True,
            exit_on_error=False,
        )

    def stop(self) -> None:
        """Ask every loop to stop (returns at once; the loops notice within a tick)."""
        self._stop.set()
        for handle in self.handles.values():
            handle.cancel()

    def join(self, timeout: float = 2.0) -> bool:
        """Block until every loop thread has returned, or `timeout` passes; True when all did."""
        deadline = time.monotonic() + timeout
        return all(f.wait(max(0.0, deadline - time.monotonic())) for f in self._finished.values())

    @property
    def running(self) -> bool:
        return any(not f.is_set() for f in self._finished.values())


def _consumer_target(engine: FlowEngine, name: str) -> Callable[[Callable[[], bool]], None]:
    return lambda stop: engine.run_consumer(name, stop)


class EventWaker:
    """Lets the frame timer sleep while the broker is quiet: a thread blocks on the event stream and
    posts one message when events arrive again (once per quiet spell, not per event)."""

    def __init__(self, app: App[Any], stream: Callable[[], EventStream], wake: Callable[[], object]) -> None:
        self.app = app
        self.stream = stream
        self.wake = wake
        self.sleeping = threading.Event()
        self.handle: Worker[None] | None = None

    def start(self) -> None:
        self.handle = self.app.run_worker(
            self._watch,
            name="event waker",
            group="waker",
            description="wakes the frame timer when broker events arrive",
            thread=True,
            exit_on_error=False,
        )

    def _watch(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            if not self.sleeping.wait(0.1):
                continue
            if self.stream().wait(0.1):
                self.sleeping.clear()
                self.wake()
