"""The whole app, headless, under a sustained publish rate: does the UI keep up, and what does it cost?

Measures, for `--rate` msg/s over `--seconds` (default 2,000 msg/s for 10 s) on the in-process broker:
events handled vs produced and the event backlog over time (must not grow), broker-event-to-screen
latency (event creation in a broker thread -> the refresh after the frame that applied it), UI-thread
CPU per frame while tokens move, frames per second, and UI-thread CPU at rest afterwards. The baseline,
in the same run, is the same load drained by a bare loop with no UI: the ratio is what the UI costs.

    /tmp/venv/bin/python benchmarks/bench_tui.py [--rate 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.backends import DEFAULT_BROKER_URL
from core.broker import reset_brokers
from core.engine import Engine
from core.events import FlowEvent
from core.runner import LoopRunner
from core.scenario import Scenario, parse_scenario
from tui.app import MqscopeApp
from tui.widgets.diagram_canvas import DiagramCanvas

SCENARIO = """
[scenario]
name = "bench"
title = "Benchmark: two topic queues, two fast consumers"

[[exchanges]]
name = "media_exchange"
type = "topic"

[[queues]]
name = "video_queue"
bindings = [{ exchange = "media_exchange", routing_key = "video.#" }]

[[queues]]
name = "audit_queue"
bindings = [{ exchange = "media_exchange", routing_key = "#" }]

[[consumers]]
name = "transcoder"
queues = ["video_queue"]
prefetch = 100

[[consumers]]
name = "auditor"
queues = ["audit_queue"]
prefetch = 100
"""


def scenario() -> Scenario:
    return parse_scenario(SCENARIO, "bench.toml")


class Sender(threading.Thread):
    """Publishes `rate` msg/s in 5 ms slices from its own thread, like a busy producer would."""

    def __init__(self, engine: Engine, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.engine, self.rate, self.seconds = engine, rate, seconds
        self.sent = 0

    def run(self) -> None:
        start = time.monotonic()
        slice_seconds = 0.005
        while (elapsed := time.monotonic() - start) < self.seconds:
            due = int(self.rate * min(elapsed + slice_seconds, self.seconds))
            for n in range(self.sent, due):
                key = "video.upload" if n % 2 == 0 else "user.login"
                self.engine.enqueue(self.engine.make_request("media_exchange", key, {"n": n}))
            self.sent = max(self.sent, due)
            time.sleep(slice_seconds)


@dataclass
class Run:
    seconds: float
    sent: int = 0
    produced: int = 0
    handled: int = 0
    backlog: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    pump_frames: int = 0
    canvas_frames: float = 0.0
    ui_cpu: float = 0.0
    process_cpu: float = 0.0
    rest_ui_cpu: float = 0.0
    rest_process_cpu: float = 0.0
    rest_seconds: float = 0.0
    rest_lines: int = 0


async def run_app(rate: int, seconds: float) -> Run:
    reset_brokers()
    engine = Engine(scenario(), DEFAULT_BROKER_URL, speed=4.0)
    app = MqscopeApp(engine, play_script=False)
    result = Run(seconds)

    def on_frame(events: Sequence[FlowEvent]) -> None:
        stamps = [e.ts for e in events]
        app.call_after_refresh(lambda: result.latencies.extend(time.monotonic() - t for t in stamps))

    async with app.run_test(size=(200, 50)) as pilot:
        while app.ledger.broker.state != "connected" or any(
            c.state != "idle" for c in app.ledger.consumers.values()
        ):
            await pilot.pause(0.05)
        app.frame_hooks.append(on_frame)
        canvas = app.screen.query_one(DiagramCanvas)
        height = max(1, canvas.size.height)
        lines0, frames0, handled0 = canvas.lines_rendered, app.frames, app.events_handled
        produced0 = engine.events.total
        sender = Sender(engine, rate, seconds)
        ui0, cpu0, t0 = time.thread_time(), time.process_time(), time.monotonic()
        sender.start()
        while sender.is_alive():
            await pilot.pause(0.5)
            result.backlog.append(len(engine.events))
        result.ui_cpu = time.thread_time() - ui0
        result.process_cpu = time.process_time() - cpu0
        result.seconds = time.monotonic() - t0
        result.sent = sender.sent
        result.canvas_frames = (canvas.lines_rendered - lines0) / height
        result.pump_frames = app.frames - frames0
        # let the broker finish, then measure rest
        deadline = time.monotonic() + 60
        while (app.ledger.in_flight or canvas.animating) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.pause(0.5)
        result.produced = engine.events.total - produced0
        result.handled = app.events_handled - handled0
        lines1, rest0, r0 = canvas.lines_rendered, time.thread_time(), time.monotonic()
        proc0 = time.process_time()
        await asyncio.sleep(3.0)
        result.rest_ui_cpu = time.thread_time() - rest0
        result.rest_process_cpu = time.process_time() - proc0
        result.rest_seconds = time.monotonic() - r0
        result.rest_lines = canvas.lines_rendered - lines1
    return result


def run_baseline(rate: int, seconds: float) -> tuple[float, int]:
    """The same load and broker with a bare drain loop and no UI: (process CPU s, events)."""
    reset_brokers()
    engine = Engine(scenario(), DEFAULT_BROKER_URL, speed=4.0)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    engine.declared.wait(5)
    time.sleep(0.5)
    sender = Sender(engine, rate, seconds)
    cpu0 = time.process_time()
    sender.start()
    drained = 0
    while sender.is_alive():
        engine.events.wait(0.05)
        drained += len(engine.events.drain())
    cpu = time.process_time() - cpu0
    runner.shutdown()
    runner.raise_first_error()
    return cpu, drained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    base_cpu, base_events = run_baseline(args.rate, args.seconds)
    r = asyncio.run(run_app(args.rate, args.seconds))
    lat = sorted(r.latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    rate = r.sent / r.seconds
    print(f"load: {r.sent} messages in {r.seconds:.1f} s = {rate:.0f} msg/s (target {args.rate})")
    share = r.handled / max(1, r.produced)
    print(f"events produced {r.produced}, handled by the UI {r.handled} ({share:.1%})")
    print(f"event backlog sampled every 0.5 s: {r.backlog}")
    print(
        f"broker-event-to-screen latency: p50 {p(0.5):.1f} ms, p95 {p(0.95):.1f} ms, "
        f"p99 {p(0.99):.1f} ms, max {p(1.0):.1f} ms over {len(lat)} events"
    )
    print(
        f"frames: {r.pump_frames / r.seconds:.1f} event batches/s, "
        f"canvas {r.canvas_frames / r.seconds:.1f} full redraws/s"
    )
    canvas_frames = max(1.0, r.canvas_frames)
    print(
        f"UI thread CPU under load: {r.ui_cpu / r.seconds:.0%} of a core, "
        f"{r.ui_cpu / canvas_frames * 1000:.1f} ms per canvas frame"
    )
    print(
        f"process CPU under load: {r.process_cpu:.1f} s vs baseline without UI {base_cpu:.1f} s "
        f"({base_events} events): ratio {r.process_cpu / max(base_cpu, 1e-9):.2f}"
    )
    print(
        f"at rest: UI thread CPU {r.rest_ui_cpu / r.rest_seconds:.2%} of a core "
        f"(whole process, broker loops included: {r.rest_process_cpu / r.rest_seconds:.2%}), "
        f"{r.rest_lines} canvas lines rendered in {r.rest_seconds:.1f} s"
    )
    print(f"(median backlog {statistics.median(r.backlog) if r.backlog else 0})")


if __name__ == "__main__":
    main()
