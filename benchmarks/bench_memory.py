"""Headless memory: how much RSS a run keeps per message, on the seed topology with no simulated work.

Each size runs in a fresh child process (peak RSS never goes down, so sizes cannot share one), which
builds the engine the way bench_throughput does, notes its RSS, runs headless with text output into a
sink that keeps nothing, and reports the peak RSS growth. Comparing two sizes cancels the fixed cost
(imports, broker, first batches): the difference over the extra messages is what each message keeps.
Run `python benchmarks/bench_memory.py [--sizes 20000 200000] [--million]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class NullSink:
    """Discards what headless prints: the output itself must not be what grows."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def current_rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status (this benchmark needs Linux)")


def child(messages: int, broker: str) -> None:
    """One measured run; prints a JSON line with the RSS before and the peak after."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_throughput import KEYS, seed_without_work

    from core.engine import Engine
    from core.headless import HeadlessOptions, run_headless

    engine = Engine(seed_without_work(), broker, speed=4.0)
    options = HeadlessOptions(
        publish=list(KEYS), repeat=messages // 2, play_script=False, timeout=3600, as_json=False
    )
    before = current_rss_kb()
    start = time.perf_counter()
    code = run_headless(engine, options, NullSink())  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    result = {"messages": messages, "before": before, "peak": peak, "seconds": seconds, "code": code}
    print(json.dumps(result))


def measure(messages: int, broker: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(messages), "--broker", broker],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child run of {messages} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise RuntimeError(f"headless run of {messages} exited {result['code']}:\n{done.stderr[-2000:]}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 messages (minutes)")
    parser.add_argument("--broker", default="")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.broker:
        sys.path.insert(0, str(ROOT))
        from core.backends import DEFAULT_BROKER_URL

        args.broker = DEFAULT_BROKER_URL
    if args.child is not None:
        child(args.child, args.broker)
        return 0
    sizes = sorted(set(args.sizes + ([1_000_000] if args.million else [])))
    print(f"headless, seed topology, no simulated work, text output discarded, broker {args.broker}")
    print(f"{'messages':>10} {'peak RSS growth':>16} {'seconds':>8} {'msg/s':>8}")
    results = []
    for size in sizes:
        r = measure(size, args.broker)
        growth_mb = (r["peak"] - r["before"]) / 1024
        results.append((size, growth_mb))
        print(f"{size:>10} {growth_mb:13.1f} MB {r['seconds']:8.1f} {size / r['seconds']:8.0f}")
    for (small, small_mb), (big, big_mb) in itertools.pairwise(results):
        kept = (big_mb - small_mb) * 1024 / (big - small)
        print(f"{small} -> {big}: {big_mb - small_mb:+.1f} MB, {kept * 1024:.0f} bytes kept per message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
