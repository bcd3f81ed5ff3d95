"""The palette's entries for big topologies: filter the diagram, focus on any exchange by name, fold
or unfold idle queues, show everything again. (Help texts are read as markup by the palette: fixed
sentences only, never a name; titles are shown literally by tui.palette.)"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand

if TYPE_CHECKING:
    from tui.screen import SessionScreen


def scope_commands(screen: SessionScreen) -> Iterable[SystemCommand]:
    canvas = screen.canvas
    scope = canvas.scope
    yield SystemCommand(
        "Filter the diagram",
        "show only boxes whose names match: text, or a glob like orders.* (/ on the diagram)",
        screen.action_open_filter,
    )
    if scope.filter_text:
        yield SystemCommand(
            "Clear the diagram filter", "show every box again", partial(canvas.set_filter, "")
        )
    if scope.focus is not None:
        yield SystemCommand(
            "Unfocus the diagram",
            "show every exchange again (f or Esc on the diagram)",
            partial(canvas.focus_on, None),
        )
    for exchange in canvas.topology.exchanges:
        yield SystemCommand(
            f"Focus exchange {exchange.name}",
            "show only this exchange and what it reaches (f on the diagram)",
            partial(canvas.focus_on, exchange.name),
        )
    yield SystemCommand(
        "Unfold idle queues" if scope.folding else "Fold idle queues",
        "one box per exchange for queues with nothing ready or unacked and no recent traffic (i)",
        canvas.action_fold_idle,
    )
