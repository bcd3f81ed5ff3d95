"""What the diagram's selection can rest on (boxes and binding labels), how the keys move it, and how
it is drawn. Plain Python over the layout, so it can be tested without an app.

Columns run left to right: exchanges, bindings, queues, consumers; up and down stay in a column,
left and right go to the nearest item (by row) in the next column that has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len

from tui.widgets.diagram_grid import Grid, clean
from tui.widgets.diagram_layout import Box, DiagramLayout

Kind = Literal["exchange", "binding", "queue", "consumer"]
COLUMNS: tuple[Kind, ...] = ("exchange", "binding", "queue", "consumer")
SELECTED_ROLE = "selected"
LABEL_SEPARATOR = " | "


@dataclass(frozen=True)
class Selection:
    """A selected exchange, queue or consumer (by name), or a queue's binding (queue, exchange, index)."""

    kind: Kind
    name: str
    """The entity's name; for a binding, its queue's."""
    exchange: str = ""
    """A binding's source exchange."""
    index: int = -1
    """A binding's position among its queue's bindings."""


@dataclass(frozen=True)
class Spot:
    """Where a selectable thing is drawn: `width` cells from (x, y)."""

    selection: Selection
    x: int
    y: int
    width: int

    @property
    def column(self) -> int:
        return COLUMNS.index(self.selection.kind)


def spots(layout: DiagramLayout) -> list[Spot]:
    """Every selectable thing on the diagram, in reading order (column, then row)."""
    out = [Spot(Selection("exchange", b.name), b.x, b.y, b.w) for b in layout.exchanges.values()]
    for label in layout.labels:
        used = 0
        for n, (text, exchange, index) in enumerate(label.parts):
            if n:
                used += len(LABEL_SEPARATOR)
            room = max(0, label.width - used)
            size = cell_len(clean(text))
            width = min(size + 2 if size + 2 <= room else size, room)
            binding = Selection("binding", label.queue, exchange, index)
            out.append(Spot(binding, label.x + used, label.y, width))
            used += width
    out += [Spot(Selection("queue", b.name), b.x, b.y, b.w) for b in layout.queues.values()]
    out += [Spot(Selection("consumer", b.name), b.x, b.y, b.w) for b in layout.consumers.values()]
    return sorted(out, key=lambda s: (s.column, s.y, s.x))


def spot_at(layout: DiagramLayout, x: int, y: int) -> Spot | None:
    """The selectable thing drawn at this cell (a box, or a binding's label), or None."""
    for spot in spots(layout):
        box = _box(layout, spot.selection)
        if box is not None and box.contains(x, y):
            return spot
        if spot.selection.kind == "binding" and spot.y == y and spot.x <= x < spot.x + spot.width:
            return spot
    return None


def move(layout: DiagramLayout, current: Selection | None, direction: str) -> Selection | None:
    """The selection after one press of up, down, left or right (the first item when none is)."""
    items = spots(layout)
    if not items:
        return None
    here = next((s for s in items if s.selection == current), None)
    if here is None:
        return items[0].selection
    if direction in ("up", "down"):
        column = [s for s in items if s.column == here.column]
        at = column.index(here) + (1 if direction == "down" else -1)
        return column[max(0, min(len(column) - 1, at))].selection
    step = 1 if direction == "right" else -1
    column_index = here.column + step
    while 0 <= column_index < len(COLUMNS):
        column = [s for s in items if s.column == column_index]
        if column:
            return min(column, key=lambda s: (abs(s.y - here.y), s.x)).selection
        column_index += step
    return here.selection


def move_among_queues(layout: DiagramLayout, current: Selection | None, direction: str) -> Selection | None:
    """Marking queues (a lesson's predict step): up or left the previous queue box, down or right the
    next, in reading order; the first queue when no queue is selected."""
    queues = [s.selection for s in spots(layout) if s.selection.kind == "queue"]
    if not queues:
        return current
    if current not in queues:
        return queues[0]
    at = queues.index(current) + (1 if direction in ("down", "right") else -1)
    return queues[max(0, min(len(queues) - 1, at))]


def find(layout: DiagramLayout, selection: Selection | None) -> Spot | None:
    """The spot of `selection` on this layout, or None when it is no longer drawn."""
    return next((s for s in spots(layout) if s.selection == selection), None)


def _box(layout: DiagramLayout, selection: Selection) -> Box | None:
    boxes = {"exchange": layout.exchanges, "queue": layout.queues, "consumer": layout.consumers}
    table = boxes.get(selection.kind)
    return None if table is None else table.get(selection.name)


def mark(grid: Grid, layout: DiagramLayout, selection: Selection | None) -> None:
    """Draw the selection: a box's frame (a one-line box's whole row) or a binding's label takes the
    SELECTED_ROLE; the characters stay as painted."""
    if selection is None:
        return
    box = _box(layout, selection)
    if box is not None:
        cells = [(x, box.y) for x in range(box.x, box.right)]
        if box.h > 1:
            cells += [(x, box.bottom - 1) for x in range(box.x, box.right)]
            cells += [(x, y) for y in range(box.y + 1, box.bottom - 1) for x in (box.x, box.right - 1)]
    else:
        spot = find(layout, selection)
        if spot is None:
            return
        cells = [(x, spot.y) for x in range(spot.x, spot.x + spot.width)]
    for x, y in cells:
        if 0 <= y < grid.height and 0 <= x < grid.width:
            grid.roles[y][x] = SELECTED_ROLE
