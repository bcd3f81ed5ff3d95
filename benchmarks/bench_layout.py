"""Big topologies: the diagram's layout, still paint, relayout and lens change for 200 queues on 30
exchanges, against the seed scenario measured in the same run.

Figures are CPU time (process_time), best of several trials (the machine is shared: the minimum is the
least disturbed figure), in milliseconds and as ratios against the seed; the issue's target is a layout
of 200 queues under 50 ms.

    .venv/bin/python benchmarks/bench_layout.py [--trials 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from core.ledger import Ledger
from core.scenario import load_scenario
from core.topology import Topology
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.diagram_layout import compute_layout
from tui.widgets.diagram_paint import paint, paint_wires
from wide_topology import wide_topology

SIZE = (120, 40)


def best_ms(run: Callable[[], object], trials: int, repeats: int = 3) -> float:
    """The least CPU a call took over `trials` rounds of `repeats` calls."""
    best = float("inf")
    for _ in range(trials):
        t0 = time.process_time()
        for _ in range(repeats):
            run()
        best = min(best, (time.process_time() - t0) * 1000 / repeats)
    return best


def pure(topology: Topology, trials: int) -> tuple[float, float]:
    """(layout ms, still paint ms: wires, labels and boxes into a grid) at 120x40."""
    layout = compute_layout(topology, *SIZE)
    ledger = Ledger(topology, keep=0, stories=False)
    return (
        best_ms(lambda: compute_layout(topology, *SIZE), trials),
        best_ms(lambda: paint(layout, ledger, None, paint_wires(layout, None)), trials),
    )


class Host(App[None]):
    def __init__(self, topology: Topology) -> None:
        super().__init__()
        self.topology = topology

    def compose(self) -> ComposeResult:
        yield DiagramCanvas(self.topology, id="flow")


def frame(canvas: DiagramCanvas) -> None:
    """What one refresh costs the canvas: every visible row rendered (the still rows rebuilt first)."""
    for y in range(canvas.size.height):
        canvas.render_line(y)


async def in_app(
    topology: Topology, exchange: str, keys: tuple[str, str], trials: int
) -> tuple[float, float]:
    """(relayout + one frame ms, lens key change + one frame ms) on a mounted canvas at 120x40."""
    app = Host(topology)
    async with app.run_test(size=SIZE) as pilot:
        canvas = app.query_one(DiagramCanvas)
        await pilot.pause(0.1)

        def relayout() -> None:
            canvas._relayout()
            frame(canvas)

        flip = iter(range(10**9))

        def lens_change() -> None:
            canvas.preview_route(exchange, keys[next(flip) % 2])
            frame(canvas)

        return best_ms(relayout, trials), best_ms(lens_change, trials)


async def main(trials: int) -> None:
    seed = load_scenario("seed").topology
    wide = wide_topology()
    print(f"diagram at {SIZE[0]}x{SIZE[1]}, CPU ms (process_time), best of {trials}; ratio = wide / seed")
    rows: list[tuple[str, float, float]] = []
    seed_pure, wide_pure = pure(seed, trials), pure(wide, trials)
    rows.append(("layout", seed_pure[0], wide_pure[0]))
    rows.append(("still paint", seed_pure[1], wide_pure[1]))
    seed_app = await in_app(seed, "media_exchange", ("video.upload", "user.login"), trials)
    wide_app = await in_app(wide, "ex03", ("ex03.3.a", "ex03.33.b"), trials)
    rows.append(("relayout + frame", seed_app[0], wide_app[0]))
    rows.append(("lens key + frame", seed_app[1], wide_app[1]))
    print(f"{'':18} {'seed':>9} {'200 queues':>11} {'ratio':>7}")
    for name, base, big in rows:
        print(f"{name:18} {base:8.2f}  {big:10.2f} {big / base:7.1f}x")
    target = "under" if wide_pure[0] < 50 else "OVER"
    print(f"layout of {len(wide.queues)} queues: {wide_pure[0]:.1f} ms, {target} the 50 ms target")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    asyncio.run(main(parser.parse_args().trials))
