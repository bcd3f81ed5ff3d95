"""Thread-safe knobs the UI turns while broker threads run: speed, pause/step, per-consumer controls."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

StopCheck = Callable[[], bool]

MIN_SPEED, MAX_SPEED = 0.25, 4.0
TICK = 0.02  # how often waits re-check stop/crash flags; bounds exit latency


class Clock:
    """Simulation time: real time scaled by a speed factor (0.25x slow motion .. 4x)."""

    def __init__(self, speed: float = 1.0) -> None:
        self._speed = speed

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        self._speed = min(MAX_SPEED, max(MIN_SPEED, float(value)))

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self._speed


class StepGate:
    """Global pause: when paused, each broker action waits for a `step()` (one action) or `resume()`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._permits = 0

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            self._permits = 0

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self, actions: int = 1) -> None:
        """Let `actions` more broker actions through while paused."""
        with self._cond:
            self._permits += actions
            self._cond.notify_all()

    def wait(self, should_stop: StopCheck) -> bool:
        """Block while paused without a permit; False when asked to stop meanwhile."""
        if not self._paused:  # the common case, without the lock every producer and consumer shares
            return True
        with self._cond:
            while self._paused and self._permits == 0:
                if should_stop():
                    return False
                self._cond.wait(TICK * 5)
            if self._paused:
                self._permits -= 1
            return True


class ConsumerCrashed(Exception):
    """Raised inside a consumer thread to simulate a crash (connection dropped, nothing acked)."""


class ConsumerControl:
    """What the user asked of one consumer: pause, crash, fail the next N messages."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.paused = threading.Event()
        """Set: the consumer finishes the message in hand, hands back (requeues) copies it was sent but
        had not started, and cancels its subscriptions. Cleared: it subscribes again."""
        self._crash = threading.Event()
        self._lock = threading.Lock()
        self._fail_next = 0
        self.manual = threading.Event()
        """Set: each delivery waits in its hands until the user decides (`decide`)."""
        self._holding: str | None = None
        self._decision: tuple[str, str] | None = None
        self._decided = threading.Condition(self._lock)

    def crash(self) -> None:
        self._crash.set()

    def take_crash(self) -> bool:
        """True once per crash request (the consumer thread consumes the request)."""
        if self._crash.is_set():
            self._crash.clear()
            return True
        return False

    @property
    def crash_requested(self) -> bool:
        return self._crash.is_set()

    def fail_next(self, count: int = 1) -> None:
        with self._lock:
            self._fail_next += count

    def take_failure(self) -> bool:
        """True when the message now in hand must fail (consumes one request)."""
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return True
            return False


    # -- manual consumer: the user decides each message's fate (a thread-safe hand-over) ---------
    @property
    def holding(self) -> str | None:
        """The message id waiting for the user's decision, if one is."""
        with self._lock:
            return self._holding

    def decide(self, msg: str, action: str) -> bool:
        """The user's decision on `msg` (MANUAL_ACTIONS); False when that message is not waiting
        (decided already, or never held): a late key press never settles the next message."""
        if action not in MANUAL_ACTIONS:
            raise ValueError(f"unknown decision {action!r}")
        with self._decided:
            if self._holding != msg:
                return False
            self._decision = (msg, action)
            self._decided.notify_all()
            return True

    def await_decision(self, msg: str, should_give_up: StopCheck) -> str | None:
        """Called by the consumer thread: hold `msg` until the user decides; None when
        `should_give_up` turns true first (stop, crash, or manual switched off)."""
        with self._decided:
            self._holding, self._decision = msg, None
            try:
                while self._decision is None or self._decision[0] != msg:
                    if should_give_up():
                        return None
                    self._decided.wait(TICK * 5)
                return self._decision[1]
            finally:
                self._holding, self._decision = None, None


MANUAL_ACTIONS = ("ack", "requeue", "dead_letter", "drop")
"""What a user can do with a message in a manual consumer's hands: basic.ack; basic.reject with
requeue=true; basic.reject with requeue=false (dead-lettered where the queue has a dead-letter
exchange, else discarded); basic.ack without processing (discarded, whatever the queue's DLX)."""


ATTEMPTS_REMEMBERED = 1 << 14
"""Messages whose delivery count is kept, most recently delivered first to stay."""


class AttemptCounter:
    """Counts deliveries per message id across all consumers (memory:// never sets `redelivered`).

    Only the ATTEMPTS_REMEMBERED most recently delivered messages are counted (every id kept for ever
    cost ~150 bytes a message): a count restarts only if that many other messages were delivered
    between two deliveries of one message, far more than prefetch and a requeue's wait allow.
    """

    def __init__(self, remembered: int = ATTEMPTS_REMEMBERED) -> None:
        self._lock = threading.Lock()
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._remembered = remembered

    def next(self, msg: str) -> int:
        """Record one more delivery of `msg`; returns its 1-based attempt number."""
        with self._lock:
            counts = self._counts
            attempt = counts.pop(msg, 0) + 1
            counts[msg] = attempt  # re-inserted: now the most recent
            if len(counts) > self._remembered:
                counts.popitem(last=False)
            return attempt


def sleep_interruptibly(seconds: float, should_stop: StopCheck, control: ConsumerControl | None) -> None:
    """Sleep in small ticks; raise ConsumerCrashed at once if a crash is requested."""
    deadline = time.monotonic() + seconds
    while True:
        if control is not None and control.take_crash():  # consume it: one request, one crash
            raise ConsumerCrashed(control.name)
        if should_stop():
            return
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(TICK, left))
