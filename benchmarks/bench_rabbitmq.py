"""Headless seed-topology throughput on RabbitMQ (publisher confirms on and off) vs the in-process broker.

Same scenario (seed, no simulated work), same headless runner, same process, alternating rounds; prints
medians and ratios against the in-process broker measured in the same run. RabbitMQ is the node at
--url (or MQSCOPE_TEST_AMQP_URL), else a throw-away loopback node started with scripts/rabbitmq.sh.
Run: `python benchmarks/bench_rabbitmq.py [--messages 2000] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from bench_throughput import KEYS, seed_without_work
from kombu import Connection

from core.backends.amqp import AmqpBackend
from core.engine import Engine
from core.headless import HeadlessOptions, run_headless

ROOT = Path(__file__).resolve().parent.parent

def headless_run(broker: str, messages: int, *, confirms: bool = True) -> float:
    """Seconds for the headless runner to publish `messages` and see every copy acked."""
    engine = Engine(seed_without_work(), broker, speed=4.0)
    if isinstance(engine.backend, AmqpBackend):
        engine.backend.confirm_publish = confirms
    options = HeadlessOptions(
        publish=list(KEYS), repeat=messages // 2, play_script=False, timeout=600, as_json=False
    )
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        code = run_headless(engine, options, sink)
    elapsed = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"headless run on {engine.backend.display_url()} exited {code}")
    return elapsed


def clean(url: str) -> None:
    """Empty the seed queues between runs (a failed run must not leave copies for the next)."""
    with Connection(url) as conn:
        channel = conn.channel()
        for spec in seed_without_work().topology.queues:
            channel.queue_delete(spec.name)


@contextlib.contextmanager
def rabbitmq(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    state = Path(tempfile.gettempdir()) / f"mqscope-rabbitmq-bench-{os.getpid()}.state"
    script = ROOT / "scripts" / "rabbitmq.sh"
    started = subprocess.run([str(script), "start", str(state)], capture_output=True, text=True, timeout=150)
    if started.returncode != 0:
        raise SystemExit(f"cannot start RabbitMQ: {' '.join(started.stderr.split())}")
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(script), "stop", str(state)], capture_output=True, timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default=os.environ.get("MQSCOPE_TEST_AMQP_URL"))
    args = parser.parse_args()
    with rabbitmq(args.url) as url:
        runs: dict[str, Callable[[], float]] = {
            "in-process (mqscope://)": lambda: headless_run(
                f"mqscope://bench{uuid.uuid4().hex[:8]}", args.messages
            ),
            "RabbitMQ, publisher confirms": lambda: headless_run(url, args.messages, confirms=True),
            "RabbitMQ, no confirms": lambda: headless_run(url, args.messages, confirms=False),
        }
        results: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for label, run in runs.items():
                clean(url)
                results.setdefault(label, []).append(run())
    baseline = statistics.median(results["in-process (mqscope://)"])
    print(
        f"{args.messages} messages ({args.messages * 3 // 2} acked copies) through the seed topology, "
        f"headless, no simulated work, median of {args.rounds}"
    )
    print(f"{'broker':32} {'seconds':>8} {'msg/s':>9} {'vs in-process':>14}")
    for label, samples in results.items():
        median = statistics.median(samples)
        print(f"{label:32} {median:8.2f} {args.messages / median:9.0f} {baseline / median:13.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
