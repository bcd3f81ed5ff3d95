"""Observe mode under load: the app follows a vhost's firehose at 5,000 msg/s without falling behind.

Against a loopback RabbitMQ (the node at --url / --management, else a throw-away one started with
scripts/rabbitmq.sh, its tracing turned on by --trace-on as a user would), a separate load process
publishes `--rate` msg/s (default 5,000) for `--seconds` (default 60) to a topic exchange whose one
queue a consumer in that process drains with acks. The app (headless Textual, the real MqscopeApp on
an observe engine) shows it; first, as a baseline, the engine alone is drained by a bare loop. Measured:
  - trace-to-screen latency: the load stamps each body with its wall-clock send time; after the frame
    that applied the message's `published` event is refreshed, now minus that stamp (p50/p95/max);
  - backlog: mqscope's trace queue depth (management API, every 5 s) and the event stream's length,
    sampled every second: they must not grow;
  - RSS of the observing process, sampled every second: bounded (the last third's peak against the
    first third's).
Targets (issue 11): no growing backlog, RSS bounded, p95 trace-to-screen under 200 ms.

    python benchmarks/bench_observe.py [--rate 5000] [--seconds 60] [--url AMQP --management HTTP]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kombu import Connection

from core.engine import Engine
from core.events import BrokerStatus, FlowEvent, Published
from core.management import ManagementClient
from core.observe.loop import ObserveSpec
from core.runner import LoopRunner
from core.scenario import Scenario, parse_scenario
from tui.app import MqscopeApp

ROOT = Path(__file__).resolve().parent.parent
EXCHANGE, QUEUE = "bench_observe", "bench_observe_q"
SCENARIO = f"""
[scenario]
name = "observe-bench"
title = "observe: one topic exchange, one queue, one consumer"

[[exchanges]]
name = "{EXCHANGE}"
type = "topic"

[[queues]]
name = "{QUEUE}"
bindings = [{{ exchange = "{EXCHANGE}", routing_key = "#" }}]

[[consumers]]
name = "worker"
queues = ["{QUEUE}"]
prefetch = 500
"""


def scenario() -> Scenario:
    return parse_scenario(SCENARIO, "observe-bench.toml")


# -- the load: a process of its own (a separate client, as on a real system) ---------------------
def load(url: str, rate: int, seconds: float) -> None:
    """Publish `rate` msg/s for `seconds` (5 ms slices) while a consumer acks them; print the count."""
    done = threading.Event()
    consumed = [0]

    def consume() -> None:
        with Connection(url) as conn:
            channel = conn.channel()
            channel.basic_qos(0, 500, False)

            def on_message(message: object) -> None:
                consumed[0] += 1
                channel.basic_ack(message.delivery_info["delivery_tag"])  # type: ignore[attr-defined]

            channel.basic_consume(queue=QUEUE, callback=on_message)
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=0.1)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    sent = 0
    with Connection(url) as conn:
        channel = conn.channel()
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(rate * min(elapsed + 0.005, seconds))
            for n in range(sent, due):
                body = json.dumps({"n": n, "t": time.time()})
                key = "video.upload" if n % 2 == 0 else "user.login"
                message = channel.prepare_message(body.encode(), content_type="application/json")
                channel.basic_publish(message, exchange=EXCHANGE, routing_key=key)
            sent = max(sent, due)
            time.sleep(0.005)
    deadline = time.monotonic() + 30
    while consumed[0] < sent and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    consumer.join(5)
    print(json.dumps({"sent": sent, "consumed": consumed[0]}), flush=True)


# -- the observer ----------------------------------------------------------------------------------
@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    trace_queue: list[int] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    observed: int = 0
    load: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def trace_queue_depth(management: ManagementClient) -> int:
    """Messages waiting in mqscope's own trace queue (the only exclusive amq.gen queue here)."""
    own = [
        q
        for q in management.queues("/")
        if q.get("exclusive") and str(q.get("name", "")).startswith("amq.gen-")
    ]
    return sum(int(q.get("messages") or 0) for q in own)


async def observe(url: str, management: ManagementClient, rate: int, seconds: float) -> Run:
    engine = Engine(scenario(), url)
    engine.observe = ObserveSpec(management)
    app = MqscopeApp(engine, play_script=False)
    result = Run()

    def on_frame(events: Sequence[FlowEvent]) -> None:
        stamps = [e.body["t"] for e in events if isinstance(e, Published) and isinstance(e.body, dict)]
        result.observed += len(stamps)
        app.call_after_refresh(lambda: result.latencies.extend(time.time() - t for t in stamps))

    async with app.run_test(size=(160, 45)) as pilot:
        while app.ledger.broker.state != "connected":
            await pilot.pause(0.05)
        app.frame_hooks.append(on_frame)
        argv = [sys.executable, __file__, "--load", url, str(rate), str(seconds)]
        loader = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=_env())
        start = time.monotonic()
        next_depth = start
        while loader.poll() is None:
            await pilot.pause(1.0)
            result.backlog.append(len(engine.events))
            result.rss_mb.append(rss_mb())
            if time.monotonic() >= next_depth:
                next_depth += 5.0
                depth = await asyncio.to_thread(trace_queue_depth, management)
                result.trace_queue.append(depth)
        result.seconds = time.monotonic() - start
        out, _ = loader.communicate(timeout=60)
        result.load = json.loads(out.strip().splitlines()[-1])
        deadline = time.monotonic() + 30
        while result.observed < result.load["sent"] and time.monotonic() < deadline:
            await pilot.pause(0.2)
    return result


def observe_bare(url: str, management: ManagementClient, rate: int, seconds: float) -> list[float]:
    """The baseline: the same load observed by the engine alone, drained by a bare loop with no UI;
    trace-to-drain latencies (s). What the app adds on top is the UI's share."""
    engine = Engine(scenario(), url)
    engine.observe = ObserveSpec(management)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner)
    latencies: list[float] = []
    try:
        while not any(isinstance(e, BrokerStatus) and e.state == "connected" for e in engine.events.drain()):
            engine.events.wait(0.05)
        argv = [sys.executable, __file__, "--load", url, str(rate), str(seconds)]
        loader = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=_env())
        while loader.poll() is None or len(engine.events):
            engine.events.wait(0.05)
            now = time.time()
            for e in engine.events.drain():
                if isinstance(e, Published) and isinstance(e.body, dict):
                    latencies.append(now - e.body["t"])
        loader.communicate(timeout=60)
    finally:
        runner.shutdown()
    runner.raise_first_error()
    return latencies


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


@contextlib.contextmanager
def rabbitmq(url: str | None, management_url: str | None) -> Iterator[tuple[str, str]]:
    if url and management_url:
        yield url, management_url
        return
    state = Path(tempfile.gettempdir()) / f"mqscope-rabbitmq-bench-observe-{os.getpid()}.state"
    script = ROOT / "scripts" / "rabbitmq.sh"
    started = subprocess.run([str(script), "start", str(state)], capture_output=True, text=True, timeout=150)
    if started.returncode != 0:
        raise SystemExit(f"cannot start RabbitMQ: {' '.join(started.stderr.split())}")
    try:
        mgmt = subprocess.run(
            [str(script), "mgmt-url", str(state)], capture_output=True, text=True, timeout=30
        )
        yield started.stdout.strip().splitlines()[-1], mgmt.stdout.strip()
    finally:
        subprocess.run([str(script), "stop", str(state)], capture_output=True, timeout=120)


def declare(url: str) -> None:
    with Connection(url) as conn:
        channel = conn.channel()
        channel.exchange_declare(exchange=EXCHANGE, type="topic", durable=False, auto_delete=False)
        channel.queue_delete(QUEUE)
        channel.queue_declare(queue=QUEUE, durable=False, auto_delete=False)
        channel.queue_bind(queue=QUEUE, exchange=EXCHANGE, routing_key="#")


def undeclare(url: str) -> None:
    with Connection(url) as conn:
        channel = conn.channel()
        channel.queue_delete(QUEUE)
        channel.exchange_delete(EXCHANGE)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of `values` in ms (nan when empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def report(r: Run, rate: int, seconds: float, bare: list[float]) -> bool:
    lat = r.latencies

    def p(q: float) -> float:
        return percentile(lat, q)

    sent = r.load.get("sent", 0)
    offered = sent / max(r.seconds, 1e-9)
    print(f"load: {sent} messages in {r.seconds:.1f} s = {offered:.0f} msg/s (target {rate})")
    print(f"consumer (separate process) received {r.load.get('consumed', 0)} of {sent}")
    print(f"observed on screen: {r.observed} of {sent} published")
    print(
        f"trace-to-screen latency: p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, p99 {p(0.99):.0f} ms, "
        f"max {p(1.0):.0f} ms over {len(lat)} messages"
    )
    print(
        f"baseline without UI (engine + bare drain loop): trace-to-drain p50 {percentile(bare, 0.5):.0f} ms, "
        f"p95 {percentile(bare, 0.95):.0f} ms over {len(bare)} messages"
    )
    print(f"trace queue depth every 5 s: {r.trace_queue}")
    print(f"event stream backlog every 1 s: {r.backlog}")
    third = max(1, len(r.rss_mb) // 3)
    first, last = max(r.rss_mb[:third] or [0]), max(r.rss_mb[-third:] or [0])
    print(f"RSS MB: first third peak {first:.0f}, last third peak {last:.0f}, max {max(r.rss_mb or [0]):.0f}")
    half = len(r.trace_queue) // 2
    growing = bool(r.trace_queue) and min(r.trace_queue[half:] or [0]) > max(
        1000, 2 * max(r.trace_queue[:half] or [0])
    )
    checks = {
        "p95 trace-to-screen under 200 ms": p(0.95) < 200,
        "no growing backlog": not growing and r.observed >= sent,
        "RSS bounded (last third within 1.25x of first)": last <= 1.25 * first,
    }
    for what, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {what}")
    return all(checks.values())


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--load":
        load(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--url", default=os.environ.get("MQSCOPE_TEST_AMQP_URL"))
    parser.add_argument("--management", default=os.environ.get("MQSCOPE_TEST_MANAGEMENT_URL"))
    args = parser.parse_args()
    with rabbitmq(args.url, args.management) as (url, management_url):
        management = ManagementClient.for_broker(url, management_url)
        was_on = management.tracing("/")
        management.set_tracing("/", True)
        declare(url)
        try:
            bare = observe_bare(url, management, args.rate, args.seconds)
            declare(url)  # empty again
            result = asyncio.run(observe(url, management, args.rate, args.seconds))
        finally:
            undeclare(url)
            if not was_on:
                management.set_tracing("/", False)
    return 0 if report(result, args.rate, args.seconds, bare) else 1


if __name__ == "__main__":
    raise SystemExit(main())
