"""The one thread runner: start named loops, stop them, join them, keep the first error.

A loop is a callable that runs until its `should_stop` says so (polling it between short waits).
Headless, tap, the TUI and the tests all start loops through LoopRunner, so they share one policy:
 - every loop runs on a thread of its own (`spawn` decides which kind: a plain daemon thread, or a
   Textual thread worker in the TUI), with a stop check that is true once `stop()` was called or the
   thread was cancelled from outside;
 - whatever a loop raises is caught at the top of its thread, kept (with its traceback) in `errors`,
   handed to `on_error`, and stops every other loop: no thread dies unnoticed, none keeps running
   beside a dead partner;
 - `join(timeout)` waits for all of them and says whether they all ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from core.controls import StopCheck
from core.errors import format_traceback, one_line

Loop = Callable[[StopCheck], None]
"""A loop body: runs until the stop check it is given turns true."""


@dataclass(frozen=True)
class LoopError:
    """What ended a loop early: its name, the exception, and the traceback as text."""

    loop: str
    error: BaseException
    traceback: str

    @property
    def summary(self) -> str:
        return one_line(self.error)


class Spawn(Protocol):
    """Start `body` on a thread named `name`; `body` gets a check that is true once that thread was
    cancelled from outside (never, for a plain thread). Returns a function that cancels it."""

    def __call__(self, name: str, body: Callable[[StopCheck], None]) -> Callable[[], None]: ...


_loop_threads: set[int] = set()
"""Idents of the threads running a loop now (set.add and discard are atomic under the GIL)."""


def on_loop_thread() -> bool:
    """True on a thread that runs one of mqscope's loops (a --run program's output is told apart)."""
    return threading.get_ident() in _loop_threads


def _never() -> bool:
    return False


def _nothing() -> None:
    return None


def spawn_thread(name: str, body: Callable[[StopCheck], None]) -> Callable[[], None]:
    """A daemon thread: it cannot keep the process alive if a join ever times out."""
    threading.Thread(target=body, args=(_never,), name=name, daemon=True).start()
    return _nothing


class LoopRunner:
    """Runs named loops on threads; stop, join and the first error, the same for every caller."""

    def __init__(
        self,
        *,
        spawn: Spawn = spawn_thread,
        on_error: Callable[[LoopError], None] | None = None,
    ) -> None:
        self._spawn = spawn
        self._on_error = on_error
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._errors: list[LoopError] = []
        self._finished: dict[str, threading.Event] = {}
        self._cancels: list[Callable[[], None]] = []

    # -- starting -----------------------------------------------------------------------------
    def start(self, name: str, loop: Loop) -> None:
        """Run `loop` on a thread of its own until `stop()` (or until it returns or raises)."""
        with self._lock:
            if name in self._finished:
                raise ValueError(f"a loop named {name!r} was already started")
            finished = self._finished[name] = threading.Event()
        stop = self._stop

        def body(cancelled: StopCheck) -> None:
            ident = threading.get_ident()
            _loop_threads.add(ident)
            try:
                loop(lambda: stop.is_set() or cancelled())
            except BaseException as exc:  # kept, reported and stopping the others: see module doc
                self._failed(LoopError(name, exc, format_traceback(exc)))
            finally:
                _loop_threads.discard(ident)
                finished.set()

        self._cancels.append(self._spawn(name, body))

    def start_all(self, loops: Iterable[tuple[str, Loop]]) -> None:
        for name, loop in loops:
            self.start(name, loop)

    def _failed(self, error: LoopError) -> None:
        """Report first, then record: whoever sees `first_error` finds the report already made."""
        try:
            if self._on_error is not None:
                self._on_error(error)
        finally:
            with self._lock:
                self._errors.append(error)
            self._stop.set()

    # -- stopping -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask every loop to stop; returns at once (they notice within a tick). Call it from the
        thread that started them: cancelling a Textual worker is for the app's thread only."""
        self._stop.set()
        for cancel in list(self._cancels):
            cancel()

    def join(self, timeout: float) -> bool:
        """Set the stop flag (any thread), then wait up to `timeout` seconds for every loop thread;
        True when all ended."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        return all(f.wait(max(0.0, deadline - time.monotonic())) for f in self._finished_events())

    def _finished_events(self) -> list[threading.Event]:
        with self._lock:
            return list(self._finished.values())

    def __enter__(self) -> LoopRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop and join; a loop still running after `timeout` is an error, not a leak."""
        self.stop()
        if not self.join(timeout):
            raise RuntimeError(f"loops still running {timeout:g}s after stop: {', '.join(self.running)}")

    # -- state --------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        """True once stop() was called or a loop failed."""
        return self._stop.is_set()

    def wait_stopping(self, timeout: float) -> bool:
        """Block until stop() was called or a loop failed, or `timeout` passes."""
        return self._stop.wait(timeout)

    @property
    def running(self) -> list[str]:
        """Names of loops whose thread has not ended yet."""
        with self._lock:
            return [name for name, done in self._finished.items() if not done.is_set()]

    @property
    def errors(self) -> list[LoopError]:
        with self._lock:
            return list(self._errors)

    @property
    def first_error(self) -> LoopError | None:
        with self._lock:
            return self._errors[0] if self._errors else None

    def raise_first_error(self) -> None:
        """Re-raise the first loop's exception here (tests: a loop's failure fails the test)."""
        error = self.first_error
        if error is not None:
            raise RuntimeError(f"loop {error.loop!r} failed:\n{error.traceback}") from error.error
