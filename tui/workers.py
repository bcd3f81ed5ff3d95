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
