"""What a keystroke in the diagram's filter costs on the big vhost (tests/data/big_vhost.toml): the
filtered view (tui/widgets/diagram_view.py) plus the layout of what it keeps, against laying out the
whole topology once, in the same run. Folding idle queues is measured the same way.

Usage: python benchmarks/bench_filter.py [ROUNDS]   (prints ratios; nothing is asserted)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.scenario import load_scenario  # noqa: E402
from tui.widgets.diagram_layout import compute_layout  # noqa: E402
from tui.widgets.diagram_view import name_matcher, view_of  # noqa: E402

SIZE = (120, 40)
TYPED = ("o", "or", "ord", "orde", "order", "orders", "orders.", "orders.c", "orders.cr", "orders.cre")


def best_of(rounds: int, work: Callable[[], object]) -> float:
    """The fastest of `rounds` runs, in seconds (the least disturbed by the shared machine)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str]) -> int:
    rounds = int(argv[1]) if len(argv) > 1 else 20
    topology = load_scenario(str(ROOT / "tests" / "data" / "big_vhost.toml")).topology
    full = best_of(rounds, lambda: compute_layout(topology, *SIZE))
    print(f"baseline: all {len(topology.queues)} queues laid out at {SIZE}: {full * 1e3:.1f} ms")
    for text in TYPED:
        matcher = name_matcher(text)

        def keystroke(matcher: Callable[[str], bool] | None = matcher) -> None:
            compute_layout(view_of(topology, matcher).topology, *SIZE)

        kept = len(view_of(topology, matcher).topology.queues)
        print(f"filter {text!r:14} {kept:3} queues: {best_of(rounds, keystroke) / full:5.2f}x the baseline")
    every_queue = frozenset(q.name for q in topology.queues)
    folded = best_of(rounds, lambda: compute_layout(view_of(topology, idle=every_queue).topology, *SIZE))
    print(f"every queue idle, folded: {folded / full:5.2f}x the baseline")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
