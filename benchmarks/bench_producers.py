"""Producers at their rate: how many messages a producer sends against rate x seconds, headless.

One producer per run on the in-process broker with a consumer that does no work, for --seconds (the
headless --timeout window); it prints sent / (rate x seconds) (1.00: exactly the rate) and the
delivered share.
The first message goes at once, so a slow rate's ratio is a little over 1. Run
`python benchmarks/bench_producers.py [--seconds 3] [--rates 1 10 100 1000]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.engine import Engine
from core.headless import HeadlessOptions, run_headless
from core.scenario import parse_scenario

SCENARIO = """
[[exchanges]]
name = "jobs"
type = "topic"

[[queues]]
name = "work"
bindings = [{{ exchange = "jobs", routing_key = "#" }}]

[[consumers]]
name = "fast"
queues = ["work"]
prefetch = 100

[[producers]]
name = "p"
exchange = "jobs"
rate = {rate}
keys = ["a.b"]
"""


class Counting:
    """Counts the JSON event kinds headless prints, keeping nothing else."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            start = line.find('"event": "') + 10
            self.kinds[line[start : line.find('"', start)]] += 1
        return len(text)

    def flush(self) -> None:
        pass


def run(rate: float, seconds: float) -> dict[str, Any]:
    engine = Engine(parse_scenario(SCENARIO.format(rate=rate), "bench.toml"), "mqscope://bench")
    sink = Counting()
    started = time.monotonic()
    run_headless(engine, HeadlessOptions(timeout=seconds), sink)  # type: ignore[arg-type]
    took = time.monotonic() - started
    return {"rate": rate, "sent": sink.kinds["published"], "delivered": sink.kinds["delivered"], "took": took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 10.0, 100.0, 1000.0])
    args = parser.parse_args()
    for rate in args.rates:
        r = run(rate, args.seconds)
        expected = rate * args.seconds
        print(
            f"rate {rate:>7g} msg/s: sent/expected {r['sent'] / expected:.2f} "
            f"({r['sent']} in {r['took']:.2f} s), delivered/sent {r['delivered'] / max(1, r['sent']):.2f}"
        )


if __name__ == "__main__":
    main()
