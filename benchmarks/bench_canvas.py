"""Flow canvas cost: CPU per frame with N moving tokens vs a still frame, and zero renders at rest.

Runs the canvas alone in a headless Textual app (the full compositor path, not just render_line) on the
twelve-queue scenario. Figures are CPU time (process_time), reported as ratios against the still frame
measured in the same run; absolute milliseconds depend on the machine and its load.

    /tmp/venv/bin/python benchmarks/bench_canvas.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

from textual.app import App, ComposeResult

from core.events import Acked, Delivered, FlowEvent, Published, Routed
from core.scenario import load_scenario
from tui.widgets.diagram_canvas import DiagramCanvas

SIZES = ((120, 40), (200, 50))
TOKENS = (50, 200)
SLOW = 0.02
"""Speed for the moving runs: legs last 17-55 s, so every token keeps moving while we measure."""


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield DiagramCanvas(load_scenario("twelve").topology, id="flow")


@dataclass
class Figures:
    frames: int
    cpu_ms_per_frame: float
    lines_per_frame: float
    canvas_ms_per_frame: float
    """render_line for every visible row alone, measured directly (no compositor)."""


def burst(n: int, start: int) -> list[Published | Routed]:
    queues = [q.name for q in load_scenario("twelve").topology.queues]
    out: list[Published | Routed] = []
    for i in range(start, start + n):
        msg = f"m{i:05d}"
        out.append(Published(msg=msg, exchange="events", routing_key="k"))
        out.append(Routed(msg=msg, exchange="events", routing_key="k", queues=(queues[i % len(queues)],)))
    return out


def canvas_only_ms(canvas: DiagramCanvas, repeats: int = 30, trials: int = 5) -> float:
    """Render every visible line, invalidating the token overlay each time as a frame tick does.

    Best of `trials` (the machine is shared: the minimum is the least disturbed figure)."""
    best = float("inf")
    for _ in range(trials):
        t0 = time.process_time()
        for _ in range(repeats):
            canvas._sprites = None
            for y in range(canvas.size.height):
                canvas.render_line(y)
        best = min(best, (time.process_time() - t0) * 1000 / repeats)
    return best


async def measure(size: tuple[int, int], tokens: int, seconds: float) -> Figures:
    app = Host()
    async with app.run_test(size=size) as pilot:
        canvas = app.query_one(DiagramCanvas)
        canvas.board.wire_cap = 10**6
        canvas.board.max_legs = 10**6
        await pilot.pause(0.2)
        if tokens:
            canvas.set_speed(SLOW)
            # Feed the burst over ~1 s so tokens are spread along their wires, not stacked.
            step = max(1, tokens // 30)
            for start in range(0, tokens, step):
                canvas.apply(burst(min(step, tokens - start), start))
                await asyncio.sleep(1 / 30)
            assert canvas.board.moving == tokens, canvas.board.moving
            ticks = canvas.frames
        else:
            # A still frame: repaint the whole canvas at 30 fps with nothing moving.
            ticker = canvas.set_interval(1 / 30, canvas.refresh)
            ticks = 0
        lines = canvas.lines_rendered
        started = time.monotonic()
        cpu0 = time.process_time()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu0
        elapsed = time.monotonic() - started
        frames = canvas.frames - ticks if tokens else round(elapsed * 30)
        if not tokens:
            ticker.stop()
        lines = canvas.lines_rendered - lines
        canvas_ms = canvas_only_ms(canvas)
        return Figures(frames, cpu * 1000 / max(1, frames), lines / max(1, frames), canvas_ms)


def lifecycle(n: int, start: int) -> list[FlowEvent]:
    """Each message published, routed, delivered and acked: what a busy broker reports per frame."""
    queues = [q.name for q in load_scenario("twelve").topology.queues]
    out: list[FlowEvent] = []
    for i in range(start, start + n):
        msg, queue = f"s{i:06d}", queues[i % len(queues)]
        out += [
            Published(msg=msg, exchange="events", routing_key="k"),
            Routed(msg=msg, exchange="events", routing_key="k", queues=(queue,)),
            Delivered(msg=msg, queue=queue, consumer="pool"),
            Acked(msg=msg, queue=queue, consumer="pool"),
        ]
    return out


async def sustained(size: tuple[int, int], per_second: int, seconds: float) -> tuple[float, float, int]:
    """`per_second` messages a second applied in one batch per frame: CPU per frame, fps, tokens moving."""
    app = Host()
    async with app.run_test(size=size) as pilot:
        canvas = app.query_one(DiagramCanvas)
        await pilot.pause(0.2)
        per_frame = per_second // 30
        batches = [lifecycle(per_frame, i * per_frame) for i in range(int(seconds * 30) + 30)]
        frames = 0
        cpu0 = time.process_time()
        end = time.monotonic() + seconds
        while time.monotonic() < end and frames < len(batches):
            canvas.apply(batches[frames])
            frames += 1
            await asyncio.sleep(1 / 30)
        cpu = time.process_time() - cpu0
        return cpu * 1000 / frames, frames / seconds, canvas.board.moving


async def at_rest(seconds: float) -> tuple[int, float, bool]:
    """After tokens finish: render_line calls and CPU over `seconds`, and whether the timer stopped."""
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        canvas = app.query_one(DiagramCanvas)
        canvas.apply(burst(50, 0))
        deadline = time.monotonic() + 10
        while canvas.animating and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        lines = canvas.lines_rendered
        cpu0 = time.process_time()
        await asyncio.sleep(seconds)
        return canvas.lines_rendered - lines, (time.process_time() - cpu0) * 1000 / seconds, canvas.animating


async def main(seconds: float) -> None:
    print(f"diagram canvas, twelve queues, {seconds:g} s per run (CPU = process_time)")
    stills: dict[tuple[int, int], float] = {}
    for size in SIZES:
        still = await measure(size, 0, seconds)
        stills[size] = still.cpu_ms_per_frame
        print(
            f"{size[0]}x{size[1]} still: {still.cpu_ms_per_frame:.2f} ms CPU/frame (app), "
            f"{still.canvas_ms_per_frame:.2f} ms canvas render_line/frame"
        )
        for n in TOKENS:
            moving = await measure(size, n, seconds)
            print(
                f"{size[0]}x{size[1]} {n:>3} tokens: {moving.frames / seconds:5.1f} fps, "
                f"{moving.cpu_ms_per_frame:.2f} ms CPU/frame (app) = "
                f"{moving.cpu_ms_per_frame / still.cpu_ms_per_frame:.2f}x still; "
                f"canvas render_line {moving.canvas_ms_per_frame:.2f} ms = "
                f"{moving.canvas_ms_per_frame / still.canvas_ms_per_frame:.2f}x still"
            )
    for size in SIZES:
        cpu_ms, fps, moving = await sustained(size, 2000, seconds)
        print(
            f"{size[0]}x{size[1]} sustained 2000 msg/s (4 events each, one batch a frame): "
            f"{cpu_ms:.2f} ms CPU/frame incl. apply = {cpu_ms / stills[size]:.2f}x still, "
            f"{fps:.1f} batches/s, {moving} tokens animated"
        )
    lines, cpu_ms_per_s, animating = await at_rest(seconds)
    print(
        f"at rest: {lines} render_line calls in {seconds:g} s, {cpu_ms_per_s:.2f} ms CPU/s, "
        f"frame timer {'RUNNING' if animating else 'stopped'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    asyncio.run(main(parser.parse_args().seconds))
