"""The event stream's bounded lag: a reader that falls behind slows the producer down to its pace."""

from __future__ import annotations

import threading
import time

from core.backends import DEFAULT_BROKER_URL
from core.broker import reset_brokers
from core.engine import Engine
from core.events import EventStream, FlowEvent, Published
from core.runner import LoopRunner
from core.scenario import parse_scenario

SCENARIO = """
[scenario]
name = "pace"

[[exchanges]]
name = "jobs"
type = "direct"

[[queues]]
name = "work"
bindings = [{ exchange = "jobs", routing_key = "job" }]

[[consumers]]
name = "worker"
queues = ["work"]
prefetch = 50
"""
MESSAGES = 3_000
LAG = 0.05
READER_PERIOD = 0.5
"""The slow reader drains this seldom: far longer than LAG, so an unbounded producer shows."""
SLACK = 0.2
"""Room for a thread switch between the producer's check and its Published event (a loaded machine)."""


def test_a_slow_reader_slows_the_producer_down_to_its_pace() -> None:
    """Every batch the slow reader takes holds Published events from at most LAG (plus a thread
    switch) after the drain before it: the producer waited for the reader instead of filling the
    stream; and every message still got published, in order."""
    reset_brokers()
    engine = Engine(parse_scenario(SCENARIO, "pace.toml"), DEFAULT_BROKER_URL)
    engine.events.max_lag = LAG
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    try:
        assert engine.declared.wait(10)
        sent = [engine.make_request("jobs", "job", {"n": n}) for n in range(MESSAGES)]
        drained_at = time.monotonic()
        for request in sent:
            engine.enqueue(request)
        batches: list[tuple[float, list[FlowEvent]]] = []
        published: list[str] = []
        deadline = time.monotonic() + 120
        while len(published) < MESSAGES and time.monotonic() < deadline:
            time.sleep(READER_PERIOD)
            batch = engine.events.drain()
            batches.append((drained_at, batch))
            drained_at = time.monotonic()
            published += [e.msg or "" for e in batch if isinstance(e, Published)]
        runner.raise_first_error()
    finally:
        runner.shutdown()
        reset_brokers()  # the in-process broker is process-wide: leave no 'work' queue to later tests
    assert published == [r.msg for r in sent]
    with_publishes = 0
    for previous_drain, batch in batches:
        stamps = [e.ts for e in batch if isinstance(e, Published)]
        if stamps:
            with_publishes += 1
            assert max(stamps) - previous_drain <= LAG + SLACK
    # the producer ran in short spurts, one per drain: far more than the one an unbounded one needs
    assert with_publishes >= 3


def test_keep_pace_waits_for_the_drain_and_not_without_a_bound() -> None:
    """With a bound, a writer behind an old event waits until the reader drains; without, it never waits."""
    stream = EventStream()
    stream.put(Published(msg="old", exchange="x", routing_key="k", ts=time.monotonic() - 1.0))
    stream.keep_pace(lambda: False)  # no bound: returns at once however old the event is
    stream.max_lag = LAG
    returned: list[float] = []

    def write() -> None:
        stream.keep_pace(lambda: False)
        returned.append(time.monotonic())

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    drained = time.monotonic()
    assert [e.msg for e in stream.drain()] == ["old"]
    writer.join(5)
    assert returned and returned[0] >= drained
    stream.put(Published(msg="old again", exchange="x", routing_key="k", ts=time.monotonic() - 1.0))
    stream.keep_pace(lambda: True)  # asked to stop: returns although nobody drains
