"""The broker's lock: a mutex that yields the interpreter lock before it blocks, to avoid lock convoys.

With CPython's GIL, a thread that blocks on a contended threading.Lock is woken holding that lock but
without the GIL; the releasing thread, still running, soon wants the lock back and blocks in turn.
From then on the producer and consumer threads hand the broker lock (and the GIL) to each other on
every publish and ack: tens of thousands of context switches a second, and throughput fell well
below kombu's memory:// transport (benchmarks/bench_broker.py; figures in benchmarks/NOTES.md).
Yielding the GIL (time.sleep(0)) lets the holder finish its short critical section first, so the
lock is almost always free by the time we try again.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

YIELDS_BEFORE_BLOCKING = 50
"""Critical sections are a few microseconds; a holder that is still busy after this many yields is
waiting on something else, and blocking for real is the better deal."""


class YieldingLock:
    """A non-reentrant mutex around a threading.Lock; conditions are built on `.lock` itself."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def lock(self) -> threading.Lock:
        """The underlying lock, for threading.Condition (held whenever this one is)."""
        return self._lock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        lock = self._lock
        if lock.acquire(False):
            return True
        if not blocking:
            return False
        if timeout < 0:  # only the wait-forever form may spin: a timeout must stay exact
            for _ in range(YIELDS_BEFORE_BLOCKING):
                time.sleep(0)  # lets the holder (waiting for the GIL) run and release
                if lock.acquire(False):
                    return True
        return lock.acquire(True, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()
