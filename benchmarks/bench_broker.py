"""The in-process broker (mqscope://) against kombu's memory:// in the same run, printed as ratios.

1. Throughput: the 20,000-message headless run on the seed topology with no simulated work
   (bench_throughput's runner), on mqscope://, on memory:// and the tutorial's own code.
2. Latency: publish-to-delivery through kombu (a producer thread and a consumer thread, each with
   its own connection, messages paced so nothing queues), p50 / p95; and the same seen by the app
   (the engine's Published -> Delivered event times).
3. Idle cost: CPU seconds a consumer blocked in drain_events(timeout=0.1) burns per wall second.

Run `python benchmarks/bench_broker.py [--messages 20000] [--rounds 3] [--samples 2000]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kombu import Connection, Consumer, Exchange, Producer, Queue

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import KEYS, seed_without_work, tutorial_run

from core.backends.memory import MemoryBackend, reset_memory_transport
from core.broker import reset_brokers
from core.controls import StopCheck
from core.engine import Engine
from core.headless import HeadlessOptions, run_headless
from core.runner import LoopRunner

MQSCOPE, MEMORY = "mqscope://bench", "memory://"
PACE = 0.002  # seconds between latency samples: latency, not queueing


def headless_run(url: str, messages: int, sink: io.StringIO, timeout: float = 120.0) -> float:
    """bench_throughput's headless run (text output into `sink`), with a bounded timeout."""
    engine = Engine(seed_without_work(), url, speed=4.0)
    options = HeadlessOptions(
        publish=list(KEYS), repeat=messages // 2, play_script=False, timeout=timeout, as_json=False
    )
    start = time.perf_counter()
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = run_headless(engine, options, sink)
    if code != 0:
        raise RuntimeError(f"headless run on {url} exited {code}: {errors.getvalue().strip()[:300]}")
    return time.perf_counter() - start


def _options(url: str) -> dict[str, Any]:
    """What the app uses: memory:// gets the engine's short polling interval (5 ms)."""
    return {"transport_options": dict(MemoryBackend.transport_options)} if url == MEMORY else {}


def _reset() -> None:
    reset_memory_transport()
    reset_brokers()


def kombu_latency(url: str, samples: int) -> list[float]:
    """Seconds from Producer.publish to the consumer callback, one paced message at a time."""
    _reset()
    exchange = Exchange("lat", type="topic")
    queue = Queue("lat_q", exchange, routing_key="#")
    latencies: list[float] = []
    ready = threading.Event()

    def consume(should_stop: StopCheck) -> None:
        with Connection(url, **_options(url)) as conn:
            def on_message(body: Any, message: Any) -> None:
                latencies.append(time.perf_counter() - body["t"])
                message.ack()

            with Consumer(conn.channel(), [queue], callbacks=[on_message], prefetch_count=1):
                ready.set()
                while not should_stop():
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.1)

    runner = LoopRunner()
    runner.start("consumer", consume)
    ready.wait(10)
    with Connection(url, **_options(url)) as conn:
        producer = Producer(conn.default_channel, serializer="json")
        for _ in range(samples):
            producer.publish({"t": time.perf_counter()}, exchange=exchange, routing_key="k")
            time.sleep(PACE)
    deadline = time.monotonic() + 30
    while len(latencies) < samples and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.shutdown()
    runner.raise_first_error()
    return latencies


def engine_latency(url: str, samples: int) -> list[float]:
    """Seconds between the engine's Published and Delivered events (what the UI animates)."""
    _reset()
    engine = Engine(seed_without_work(), url, speed=4.0)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner)
    engine.declared.wait(10)
    time.sleep(0.2)
    published: dict[str, float] = {}
    delivered: dict[str, float] = {}
    for _ in range(samples):
        engine.publish("media_exchange", "user.login", {})
        time.sleep(PACE)
    deadline = time.monotonic() + 30
    while len(delivered) < samples and time.monotonic() < deadline:
        engine.events.wait(0.05)
        for event in engine.events.drain():
            if event.msg is None:
                continue
            if event.kind == "published":
                published[event.msg] = event.ts
            elif event.kind == "delivered":
                delivered.setdefault(event.msg, event.ts)
    runner.shutdown()
    runner.raise_first_error()
    return [delivered[m] - published[m] for m in delivered if m in published]


def idle_cpu(url: str, seconds: float = 2.0) -> float:
    """CPU seconds per wall second of one idle consumer loop (the app's drain with timeout=0.1)."""
    _reset()
    queue = Queue("idle_q", Exchange("idle", type="direct"), routing_key="k")
    with Connection(url, **_options(url)) as conn, Consumer(
        conn.channel(), [queue], callbacks=[lambda _b, m: m.ack()]
    ):
        start_cpu, start = time.process_time(), time.perf_counter()
        while time.perf_counter() - start < seconds:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.1)
        return (time.process_time() - start_cpu) / (time.perf_counter() - start)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2_000)
    args = parser.parse_args()
    sink = io.StringIO()
    runs: dict[str, Callable[[], float]] = {
        "mqscope://": lambda: headless_run(MQSCOPE, args.messages, sink),
        "memory://": lambda: headless_run(MEMORY, args.messages, sink),
        "tutorial's code (memory://)": lambda: tutorial_run(args.messages, sink),
    }
    times: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(args.rounds):  # alternate, so drift on a shared machine hits all alike
        for label, run in runs.items():
            _reset()
            with contextlib.redirect_stderr(io.StringIO()):
                times[label].append(run())
            sink.seek(0)
            sink.truncate()
    base = statistics.median(times["memory://"])
    print(f"Throughput: {args.messages} messages, seed topology, no work, median of {args.rounds}")
    print(f"  {'broker':30} {'seconds':>8} {'msg/s':>8} {'vs memory://':>13}")
    for label, samples in times.items():
        median = statistics.median(samples)
        print(f"  {label:30} {median:8.2f} {args.messages / median:8.0f} {base / median:12.2f}x")

    print(f"Latency: publish -> delivery, {args.samples} paced messages (ms)")
    print(f"  {'path':30} {'p50':>8} {'p95':>8}")
    rows: dict[str, list[float]] = {}
    for url in (MQSCOPE, MEMORY):
        rows[f"kombu on {url.split('//')[0]}//"] = kombu_latency(url, args.samples)
        rows[f"engine on {url.split('//')[0]}//"] = engine_latency(url, args.samples // 4)
    for label, values in rows.items():
        print(f"  {label:30} {_pct(values, 0.5):8.2f} {_pct(values, 0.95):8.2f}")
    mq, mem = rows["kombu on mqscope://"], rows["kombu on memory://"]
    print(f"  p50 ratio memory:// / mqscope://: {_pct(mem, 0.5) / max(_pct(mq, 0.5), 1e-9):.1f}x")

    print("Idle: CPU seconds per wall second, one consumer draining with timeout=0.1")
    idle = {url: idle_cpu(url) for url in (MQSCOPE, MEMORY)}
    for url, cpu in idle.items():
        print(f"  {url:30} {cpu:8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
