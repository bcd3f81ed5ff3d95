"""Paint the boxes that stand for folded idle queues ("+12 idle"), which the diagram painter leaves
alone: they are no queues of the ledger, so they have no counts to show.

Plain Python (no Textual), like diagram_paint.
"""

from __future__ import annotations

from dataclasses import replace

from tui.widgets.diagram_grid import Grid
from tui.widgets.diagram_layout import DiagramLayout
from tui.widgets.diagram_view import Fold

HINT = "i unfolds"


def without_folds(layout: DiagramLayout, folds: dict[str, Fold]) -> DiagramLayout:
    """The layout with the folds' boxes taken out (what diagram_paint.paint draws); their wires and
    binding labels stay (they are drawn with the other wires)."""
    if not folds:
        return layout
    queues = {name: box for name, box in layout.queues.items() if name not in folds}
    return replace(layout, queues=queues)


def paint_folds(grid: Grid, layout: DiagramLayout, folds: dict[str, Fold]) -> None:
    """Each fold: a dashed frame (or a one-line panel) saying how many idle queues it holds."""
    for key, fold in folds.items():
        box = layout.queues.get(key)
        if box is None:
            continue
        for y in range(box.y, box.bottom):
            for x in range(box.x, box.right):
                grid.put(x, y, " ", "box")
        if box.compact:
            used = grid.text(box.x + 1, box.y, fold.title, "muted", box.w - 2)
            if used + len(HINT) + 3 <= box.w:
                grid.text(box.right - 1 - len(HINT), box.y, HINT, "dim", len(HINT))
            continue
        for x in range(box.x + 1, box.right - 1):
            grid.put(x, box.y, "╌", "dim")
            grid.put(x, box.bottom - 1, "╌", "dim")
        for y in range(box.y + 1, box.bottom - 1):
            grid.put(box.x, y, "╎", "dim")
            grid.put(box.right - 1, y, "╎", "dim")
        for x, y, corner in (
            (box.x, box.y, "╭"),
            (box.right - 1, box.y, "╮"),
            (box.x, box.bottom - 1, "╰"),
            (box.right - 1, box.bottom - 1, "╯"),
        ):
            grid.put(x, y, corner, "dim")
        grid.text(box.x + 2, box.y, f" {fold.title} ", "muted", box.w - 4)
        grid.text(box.x + 2, box.mid_y, HINT, "dim", box.w - 4)
