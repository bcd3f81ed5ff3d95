"""A topology with exchanges but no queue yet (a program under --run declares its exchange first)
still paints: the depth bars' scale is worked out once a paint, and with no queue it is the floor."""

from __future__ import annotations

from core.ledger import Ledger
from core.topology import ExchangeSpec, Topology
from tui.widgets.diagram_layout import compute_layout
from tui.widgets.diagram_paint import paint


def test_an_exchange_alone_paints() -> None:
    topology = Topology((ExchangeSpec("lonely", "topic"),), ()).validate()
    grid = paint(compute_layout(topology, 80, 24), Ledger(topology, keep=0, stories=False), None)
    assert any("lonely" in grid.line(y) for y in range(grid.height))
