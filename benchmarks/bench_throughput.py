"""Headless throughput: N messages through the seed topology, mqscope vs the tutorial's own code.

The tutorial's code is rebuilt as described in DESIGN.md (ConsumerMixin worker, one Consumer over both
queues with prefetch 1, Producer, per-message logging to stdout, one shared Connection) with its sleeps
removed. Everything runs in this one process, alternating rounds, and prints ratios (not absolute
targets): run `python benchmarks/bench_throughput.py [--messages 20000] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kombu import Connection, Consumer, Exchange, Queue
from kombu.mixins import ConsumerMixin

from core.backends import DEFAULT_BROKER_URL
from core.backends.memory import reset_memory_transport
from core.engine import Engine
from core.headless import HeadlessOptions, run_headless
from core.scenario import Scenario, load_scenario

KEYS = ("video.upload", "user.login")


# --- the tutorial's code, sleeps removed ----------------------------------------------------------
def tutorial_run(messages: int, sink: io.TextIOBase) -> float:
    """Publish `messages` (alternating keys) and wait until the worker acked every copy."""
    logger = logging.getLogger(f"tutorial-{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    media_exchange = Exchange("media_exchange", type="topic", durable=True)
    video_queue = Queue("video_queue", media_exchange, routing_key="video.#")
    audit_queue = Queue("audit_queue", media_exchange, routing_key="#")
    expected_acks = sum(2 if k.startswith("video.") else 1 for k in _keys(messages))
    done = threading.Event()

    class Worker(ConsumerMixin):  # type: ignore[misc]
        def __init__(self, connection: Connection) -> None:
            self.connection = connection
            self.acked = 0

        def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Consumer]:
            return [
                consumer_cls(
                    queues=[video_queue, audit_queue],
                    accept=["json"],
                    prefetch_count=1,
                    callbacks=[self.process_task],
                )
            ]

        def process_task(self, body: Any, message: Any) -> None:
            routing_key = message.delivery_info["routing_key"]
            logger.info(f"RECEIVED: {routing_key} | id={body['id']}")
            try:
                if "video" in routing_key:  # the tutorial's dispatch by key (a defect, kept)
                    logger.info(f"transcoding {body.get('file')}")
                else:
                    logger.info(f"audit: {body}")
                message.ack()
                logger.info("ACKNOWLEDGED")
                self.acked += 1
                if self.acked >= expected_acks:
                    self.should_stop = True
                    done.set()
            except Exception as exc:  # the tutorial only logs (and so stalls)
                logger.error(f"error: {exc}")

    with Connection("memory://localhost/") as conn:
        worker = Worker(conn)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        start = time.perf_counter()
        with conn.Producer(serializer="json") as producer:
            for key in _keys(messages):
                body = {"id": uuid.uuid4().hex[:8], "file": "movie.mp4"}
                logger.info(f"SENDING: {key}")
                producer.publish(
                    body, exchange=media_exchange, routing_key=key,
                    declare=[video_queue, audit_queue],
                )
        if not done.wait(600):
            raise RuntimeError(f"tutorial run stalled after {worker.acked}/{expected_acks} acks")
        elapsed = time.perf_counter() - start
        worker.should_stop = True
        thread.join(5)
    logger.removeHandler(handler)
    return elapsed


def _keys(messages: int) -> list[str]:
    return [KEYS[i % 2] for i in range(messages)]


# --- mqscope ---------------------------------------------------------------------------------------
def seed_without_work() -> Scenario:
    seed = load_scenario("seed")
    consumers = tuple(replace(c, work_seconds=0.0) for c in seed.topology.consumers)
    return replace(seed, topology=replace(seed.topology, consumers=consumers), publishes=())


def mqscope_run(broker: str, messages: int, sink: io.TextIOBase) -> float:
    """The headless runner on `broker`: text output (one line per event) into `sink`."""
    engine = Engine(seed_without_work(), broker, speed=4.0)
    options = HeadlessOptions(
        publish=list(KEYS), repeat=messages // 2, play_script=False, timeout=600, as_json=False
    )
    start = time.perf_counter()
    code = run_headless(engine, options, sink)
    elapsed = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"mqscope run on {broker} exited {code}")
    return elapsed


def measure(label: str, run: Callable[[], float], results: dict[str, list[float]]) -> None:
    reset_memory_transport()
    seconds = run()
    results.setdefault(label, []).append(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sink = io.StringIO()
    runs: dict[str, Callable[[], float]] = {"tutorial (memory://)": lambda: tutorial_run(args.messages, sink)}
    runs["mqscope on memory://"] = lambda: mqscope_run("memory://", args.messages, sink)
    if DEFAULT_BROKER_URL != "memory://":
        runs[f"mqscope on {DEFAULT_BROKER_URL} (default)"] = lambda: mqscope_run(
            DEFAULT_BROKER_URL, args.messages, sink
        )
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for label, run in runs.items():
            with contextlib.redirect_stderr(io.StringIO()):
                measure(label, run, results)
            sink.seek(0)
            sink.truncate()
    baseline = statistics.median(results["tutorial (memory://)"])
    print(f"{args.messages} messages through the seed topology, no simulated work, median of {args.rounds}")
    print(f"{'run':42} {'seconds':>8} {'msg/s':>9} {'vs tutorial':>12}")
    for label, samples in results.items():
        median = statistics.median(samples)
        print(f"{label:42} {median:8.2f} {args.messages / median:9.0f} {baseline / median:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
