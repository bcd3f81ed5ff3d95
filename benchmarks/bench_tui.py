"""The whole app, headless, under a sustained publish rate: does the UI keep up, and what does it cost?

Measures, for `--rate` msg/s offered over `--seconds` (default 2,000 msg/s for 10 s) on the in-process
broker: the rate the producer really published (and the copies delivered), not only what was offered;
events handled vs produced and the backlogs over time (events waiting for the UI, requests waiting for
the producer: neither may grow), broker-event-to-screen latency (event creation in a broker thread ->
the refresh after the frame that applied it), screen updates per second, UI-thread CPU, and CPU at rest
afterwards. The baseline, in the same run, is the same load drained by a bare loop with no UI: the
ratio is what the UI costs (`--no-baseline` skips it, for quick paired runs).

A sender that cannot offer the asked rate (it holds back, as the app's producers do, while
MAX_WAITING requests wait for the producer thread) is a finding, not a pass: the script says so.

    .venv/bin/python benchmarks/bench_tui.py [--rate 2000] [--seconds 10] [--no-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import tui.app
from core.backends import DEFAULT_BROKER_URL
from core.broker import reset_brokers
from core.engine import Engine
from core.events import Delivered, FlowEvent, Published
from core.producers import MAX_WAITING
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
    """Offers `rate` msg/s in 5 ms slices from its own thread, like a busy producer would: it holds
    back (and does not make up for it later) while MAX_WAITING requests wait for the producer thread,
    as core.producers does, so a producer slower than the offer shows as a lower offered rate."""

    def __init__(self, engine: Engine, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.engine, self.rate, self.seconds = engine, rate, seconds
        self.sent = 0
        self.skipped = 0
        """Messages that fell due while the producer thread was MAX_WAITING behind (never sent)."""

    def run(self) -> None:
        start = time.monotonic()
        slice_seconds = 0.005
        while (elapsed := time.monotonic() - start) < self.seconds:
            due = int(self.rate * min(elapsed + slice_seconds, self.seconds)) - self.skipped
            if self.engine.requests.waiting() >= MAX_WAITING:
                self.skipped += max(0, due - self.sent)
                due = self.sent
            for n in range(self.sent, due):
                key = "video.upload" if n % 2 == 0 else "user.login"
                self.engine.enqueue(self.engine.make_request("media_exchange", key, {"n": n}))
            self.sent = max(self.sent, due)
            time.sleep(slice_seconds)


@dataclass
class Run:
    seconds: float
    sent: int = 0
    skipped: int = 0
    produced: int = 0
    handled: int = 0
    backlog: list[int] = field(default_factory=list)
    """Events waiting for the UI, sampled every 0.5 s."""
    requests_waiting: list[int] = field(default_factory=list)
    """Requests waiting for the producer thread, sampled every 0.5 s."""
    published: int = 0
    """Published events stamped inside the load window: what the producer really sent."""
    delivered: int = 0
    screen_updates: int = 0
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

    window = [float("inf"), float("inf")]
    """Start and end (monotonic) of the load: Published events stamped inside count as delivered load."""

    def on_frame(events: Sequence[FlowEvent]) -> None:
        stamps = [e.ts for e in events]
        app.call_after_refresh(lambda: result.latencies.extend(time.monotonic() - t for t in stamps))
        start, end = window
        for e in events:
            if start <= e.ts < end:
                if isinstance(e, Published):
                    result.published += 1
                elif isinstance(e, Delivered):
                    result.delivered += 1

    display = app._display  # measurement only: counts the screen updates Textual composes

    def counting_display(screen: Any, renderable: Any) -> None:
        if renderable is not None:
            result.screen_updates += 1
        display(screen, renderable)

    app._display = counting_display  # type: ignore[method-assign]

    async with app.run_test(size=(200, 50)) as pilot:
        while app.ledger.broker.state != "connected" or any(
            c.state != "idle" for c in app.ledger.consumers.values()
        ):
            await pilot.pause(0.05)
        app.frame_hooks.append(on_frame)
        canvas = app.screen.query_one(DiagramCanvas)
        height = max(1, canvas.size.height)
        lines0, frames0, handled0 = canvas.lines_rendered, app.frames, app.events_handled
        produced0, updates0 = engine.events.total, result.screen_updates
        sender = Sender(engine, rate, seconds)
        ui0, cpu0, t0 = time.thread_time(), time.process_time(), time.monotonic()
        window[0] = t0
        sender.start()
        while sender.is_alive():
            await pilot.pause(0.5)
            result.backlog.append(len(engine.events))
            result.requests_waiting.append(engine.requests.waiting())
        result.ui_cpu = time.thread_time() - ui0
        result.process_cpu = time.process_time() - cpu0
        window[1] = time.monotonic()
        result.seconds = window[1] - t0
        result.screen_updates -= updates0
        result.sent = sender.sent
        result.skipped = sender.skipped
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


def run_baseline(rate: int, seconds: float) -> tuple[float, int, float]:
    """The same load and broker with a bare drain loop and no UI: (process CPU s, events, published
    msg/s): what the broker alone reaches on this machine, the ceiling for the app's rate."""
    reset_brokers()
    engine = Engine(scenario(), DEFAULT_BROKER_URL, speed=4.0)
    engine.events.max_lag = getattr(tui.app, "SCREEN_LAG", None)  # the app's bound (before: none)
    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner, play_script=False)
    engine.declared.wait(5)
    time.sleep(0.5)
    sender = Sender(engine, rate, seconds)
    cpu0 = time.process_time()
    sender.start()
    drained = published = 0
    t0 = time.monotonic()
    while sender.is_alive():
        engine.events.wait(0.05)
        batch = engine.events.drain()
        drained += len(batch)
        published += sum(1 for e in batch if isinstance(e, Published))
    cpu, elapsed = time.process_time() - cpu0, time.monotonic() - t0
    runner.shutdown()
    runner.raise_first_error()
    return cpu, drained, published / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without UI")
    parser.add_argument(
        "--switch-interval", type=float, help="the app's GIL switch interval (default tui.app's)"
    )
    parser.add_argument("--lag", type=float, help="the app's bound on event lag (default tui.app's)")
    args = parser.parse_args()
    if args.switch_interval is not None:
        tui.app.SWITCH_INTERVAL = args.switch_interval  # read by the app when it mounts
    if args.lag is not None:
        tui.app.SCREEN_LAG = args.lag
    print(
        f"switch interval {tui.app.SWITCH_INTERVAL * 1000:g} ms, "
        f"event lag bound {tui.app.SCREEN_LAG * 1000:g} ms"
    )
    base_cpu, base_events, base_rate = (
        (0.0, 0, 0.0) if args.no_baseline else run_baseline(args.rate, args.seconds)
    )
    r = asyncio.run(run_app(args.rate, args.seconds))
    lat = sorted(r.latencies)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
    offered = r.sent / r.seconds
    print(
        f"offered: {r.sent} messages in {r.seconds:.1f} s = {offered:.0f} msg/s (asked {args.rate})"
        + (
            f"; the sender held back {r.skipped} (the producer thread was {MAX_WAITING} requests behind)"
            if r.skipped
            else ""
        )
    )
    published = r.published / r.seconds
    print(
        f"PUBLISHED: {published:.0f} msg/s really sent by the producer, "
        f"{r.delivered / r.seconds:.0f} copies/s delivered"
    )
    if not args.no_baseline:
        print(f"  without the UI (same broker, a bare drain loop): {base_rate:.0f} msg/s published")
    if published < 0.95 * args.rate:
        print(f"  FINDING: the load asked ({args.rate} msg/s) was not delivered: not a pass")
    share = r.handled / max(1, r.produced)
    print(f"events produced {r.produced}, handled by the UI {r.handled} ({share:.1%})")
    print(f"event backlog (waiting for the UI) every 0.5 s: {r.backlog}")
    print(f"request backlog (waiting for the producer) every 0.5 s: {r.requests_waiting}")
    print(
        f"broker-event-to-screen latency: p50 {p(0.5):.1f} ms, p95 {p(0.95):.1f} ms, "
        f"p99 {p(0.99):.1f} ms, max {p(1.0):.1f} ms over {len(lat)} events"
    )
    print(
        f"frames: {r.screen_updates / r.seconds:.1f} screen updates/s, "
        f"{r.pump_frames / r.seconds:.1f} event batches/s, "
        f"canvas {r.canvas_frames / r.seconds:.1f} full-canvas equivalents/s"
    )
    print(
        f"UI thread CPU under load: {r.ui_cpu / r.seconds:.0%} of a core, "
        f"{r.ui_cpu / max(1, r.screen_updates) * 1000:.1f} ms per screen update"
    )
    if not args.no_baseline:
        print(
            f"process CPU under load: {r.process_cpu:.1f} s vs baseline without UI {base_cpu:.1f} s "
            f"({base_events} events): ratio {r.process_cpu / max(base_cpu, 1e-9):.2f}"
        )
    else:
        print(f"process CPU under load: {r.process_cpu / r.seconds:.0%} of a core")
    print(
        f"at rest: UI thread CPU {r.rest_ui_cpu / r.rest_seconds:.2%} of a core "
        f"(whole process, broker loops included: {r.rest_process_cpu / r.rest_seconds:.2%}), "
        f"{r.rest_lines} canvas lines rendered in {r.rest_seconds:.1f} s"
    )
    print(f"(median event backlog {statistics.median(r.backlog) if r.backlog else 0})")


if __name__ == "__main__":
    main()
