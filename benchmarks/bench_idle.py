"""At rest: how much CPU does mqscope use when nothing flows? (issue #15: under 1% of a core)

Two modes, each in this one process, on the in-process broker and the seed scenario:
 - engine: the engine's loops alone (producer, consumer), started the way headless starts them;
 - tui: the whole app, headless (Textual's run_test), with its frame timer, event waker and widgets.
Each waits until the scenario's script is published and settled, lets things calm down (in the app,
until the input's cursor has stopped blinking: tui/widgets/key_input.py), then measures
process CPU (time.process_time) and per-thread CPU and wake-ups (voluntary context switches, from
/proc) over `--seconds`. Wake-ups are what idle costs: each one is a thread scheduled to find nothing.
Under run_test there is no terminal: a real terminal adds Textual's own input thread (not mqscope's).

    python benchmarks/bench_idle.py [--seconds 10] [--mode engine|tui|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from dataclasses import dataclass, replace

from core.backends import DEFAULT_BROKER_URL
from core.broker import reset_brokers
from core.engine import Engine
from core.ledger import Ledger
from core.runner import LoopRunner
from core.scenario import Scenario, load_scenario

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ThreadSample:
    cpu: float
    wakeups: int


def thread_samples() -> dict[str, ThreadSample]:
    """CPU seconds and voluntary context switches of every live thread of this process, by name."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    out: dict[str, ThreadSample] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/status", encoding="ascii") as f:
                switches = next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt"))
        except (OSError, StopIteration):  # the thread ended between listing and reading
            continue
        name = names.get(int(tid), f"thread {tid}")
        out[name] = ThreadSample((int(stat[11]) + int(stat[12])) / CLOCK_TICKS, switches)
    return out


@dataclass
class Rest:
    seconds: float
    process_cpu: float
    threads: dict[str, tuple[float, int]]

    def report(self, label: str) -> None:
        share = self.process_cpu / self.seconds
        print(f"{label}: whole process {share:.2%} of a core over {self.seconds:.1f} s at rest (target < 1%)")
        for name, (cpu, wakeups) in sorted(self.threads.items(), key=lambda x: -x[1][0]):
            print(f"    {name:32} {cpu / self.seconds:7.2%}  {wakeups / self.seconds:7.1f} wake-ups/s")


def rest_since(before: dict[str, ThreadSample], cpu0: float, t0: float) -> Rest:
    after, cpu1, t1 = thread_samples(), time.process_time(), time.monotonic()
    threads = {
        name: (s.cpu - before[name].cpu, s.wakeups - before[name].wakeups)
        for name, s in after.items()
        if name in before
    }
    return Rest(t1 - t0, cpu1 - cpu0, threads)


def scenario() -> Scenario:
    """The seed scenario, faster (its script of two messages settles within a few seconds)."""
    seed = load_scenario("seed")
    consumers = tuple(replace(c, work_seconds=0.05) for c in seed.topology.consumers)
    return replace(seed, topology=replace(seed.topology, consumers=consumers))


def engine_at_rest(seconds: float) -> Rest:
    reset_brokers()
    engine = Engine(scenario(), DEFAULT_BROKER_URL, speed=4.0)
    ledger = Ledger(engine.topology, keep=0, stories=False)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=True)
    deadline = time.monotonic() + 30
    while ledger.published < len(engine.scenario.publishes) or not ledger.all_settled:
        if time.monotonic() > deadline:
            raise RuntimeError("the seed script did not settle within 30 s")
        engine.events.wait(0.1)
        ledger.feed_all(engine.events.drain())
    time.sleep(3.0)  # let pollers back off
    engine.events.drain()
    try:
        start = thread_samples(), time.process_time(), time.monotonic()
        time.sleep(seconds)
        return rest_since(*start)
    finally:
        runner.shutdown()
        runner.raise_first_error()


async def tui_rest(seconds: float) -> Rest:
    from tui.app import MqscopeApp
    from tui.widgets.key_input import BLINK_SECONDS

    reset_brokers()
    engine = Engine(scenario(), DEFAULT_BROKER_URL, speed=4.0)
    app = MqscopeApp(engine, play_script=True)
    started = time.monotonic()
    async with app.run_test(size=(200, 50)) as pilot:
        deadline = time.monotonic() + 30
        while app.ledger.published < len(engine.scenario.publishes) or not app.ledger.all_settled:
            if time.monotonic() > deadline:
                raise RuntimeError("the seed script did not settle within 30 s")
            await pilot.pause(0.1)
        # Tokens land, the frame timer goes to sleep, pollers back off, the key input's cursor
        # stops blinking (BLINK_SECONDS after the last key: here, after focus at start).
        await asyncio.sleep(max(3.0, BLINK_SECONDS + 1.0 - (time.monotonic() - started)))
        start = thread_samples(), time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)  # the app's event loop runs meanwhile
        return rest_since(*start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mode", choices=("engine", "tui", "both"), default="both")
    args = parser.parse_args()
    if args.mode in ("engine", "both"):
        engine_at_rest(args.seconds).report("engine alone (producer + consumer loops)")
    if args.mode in ("tui", "both"):
        asyncio.run(tui_rest(args.seconds)).report("TUI (headless app, broker loops included)")


if __name__ == "__main__":
    main()
