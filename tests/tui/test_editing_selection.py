"""The selection over a laid-out diagram, without an app: what it rests on, how keys move it, how it shows."""

from __future__ import annotations

from core.scenario import load_scenario
from tui.editing.selection import SELECTED_ROLE, Selection, mark, move, spot_at, spots
from tui.widgets.diagram_grid import Grid
from tui.widgets.diagram_layout import compute_layout

TWELVE = load_scenario("twelve").topology


def test_every_box_and_binding_is_selectable_in_column_order() -> None:
    layout = compute_layout(TWELVE, 200, 50)
    kinds = [s.selection.kind for s in spots(layout)]
    bindings = sum(len(q.bindings) for q in TWELVE.queues)
    assert kinds == (
        ["exchange"] * len(TWELVE.exchanges)
        + ["binding"] * bindings
        + ["queue"] * len(TWELVE.queues)
        + ["consumer"] * len(TWELVE.consumers)
    )


def test_keys_move_within_a_column_and_across_columns_and_stop_at_the_edges() -> None:
    layout = compute_layout(TWELVE, 200, 50)
    first = move(layout, None, "down")
    assert first is not None and first.kind == "exchange"
    assert move(layout, first, "left") == first and move(layout, first, "up") == first
    queues = [s.selection for s in spots(layout) if s.selection.kind == "queue"]
    assert move(layout, queues[0], "down") == queues[1]
    assert move(layout, queues[-1], "down") == queues[-1]
    binding = move(layout, queues[3], "left")
    assert binding is not None and binding.kind == "binding"
    assert binding.name == queues[3].name  # the label on the queue's own row
    consumer = move(layout, queues[3], "right")
    assert consumer is not None and consumer.kind == "consumer"
    assert move(layout, consumer, "right") == consumer


def test_a_click_finds_a_binding_label_and_the_selection_is_drawn_on_its_cells_only() -> None:
    layout = compute_layout(TWELVE, 200, 50)
    label = next(s for s in spots(layout) if s.selection.kind == "binding")
    hit = spot_at(layout, label.x + 1, label.y)
    assert hit is not None and hit.selection == label.selection
    grid = Grid(layout.width, layout.height)
    mark(grid, layout, label.selection)
    marked = {
        (x, y) for y in range(grid.height) for x in range(grid.width) if grid.roles[y][x] == SELECTED_ROLE
    }
    assert marked == {(x, label.y) for x in range(label.x, label.x + label.width)}
    mark(grid, layout, Selection("queue", "gone"))  # nothing drawn for what is not there
