"""The lock-light pieces the broker threads share: the event stream and the broker's yielding lock."""

from __future__ import annotations

import threading
import time

from core.broker.locking import YieldingLock
from core.events import ConsumerState, EventStream

WRITERS, PER_WRITER = 4, 5_000


def _event(writer: int, n: int) -> ConsumerState:
    return ConsumerState(consumer=f"w{writer}", state="idle", detail=str(n))


def test_event_stream_keeps_every_event_and_each_writers_order() -> None:
    """Lock-free puts from several threads while one reader drains: nothing lost, nothing reordered."""
    stream = EventStream()
    done = threading.Event()
    seen: list[ConsumerState] = []

    def write(writer: int) -> None:
        for n in range(PER_WRITER):
            stream.put(_event(writer, n))

    def read() -> None:
        while not (done.is_set() and not len(stream)):
            stream.wait(0.01)
            seen.extend(e for e in stream.drain() if isinstance(e, ConsumerState))

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join(10)
    assert not reader.is_alive()
    assert len(seen) == WRITERS * PER_WRITER == stream.total
    for writer in range(WRITERS):
        mine = [int(e.detail) for e in seen if e.consumer == f"w{writer}"]
        assert mine == list(range(PER_WRITER))


def test_event_stream_wakes_a_waiting_reader_and_honours_limits() -> None:
    stream = EventStream()
    assert stream.wait(0.01) is False
    woke = threading.Event()

    def wait() -> None:
        if stream.wait(10):
            woke.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    for n in range(3):
        stream.put(_event(0, n))
    waiter.join(10)
    assert woke.is_set()
    assert [e.detail for e in stream.drain(limit=2)] == ["0", "1"]  # type: ignore[attr-defined]
    assert len(stream) == 1 and stream.total == 3
    assert stream.drain() and stream.drain() == []


def test_yielding_lock_excludes_and_times_out() -> None:
    lock = YieldingLock()
    counter = {"n": 0}

    def bump() -> None:
        for _ in range(2_000):
            with lock:
                value = counter["n"]
                time.sleep(0)  # give the GIL away inside the critical section
                counter["n"] = value + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter["n"] == 8_000

    assert lock.acquire()
    assert lock.acquire(blocking=False) is False
    assert lock.acquire(timeout=0.01) is False  # a timed acquire does not spin past its timeout
    lock.release()
    assert not lock.locked()


def test_a_condition_on_the_underlying_lock_waits_and_wakes_under_the_yielding_lock() -> None:
    lock = YieldingLock()
    cond = threading.Condition(lock.lock)
    ready: list[int] = []

    def consume() -> None:
        with lock:
            while not ready:
                cond.wait(5)

    thread = threading.Thread(target=consume)
    thread.start()
    with lock:
        ready.append(1)
        cond.notify()
    thread.join(10)
    assert not thread.is_alive()
