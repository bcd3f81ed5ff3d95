"""The diagram's keys for big topologies (filter, focus, fold, and Esc to widen again), and which
exchange a selection means for `f`. The filter is the session screen's: its `/` also works (unshown)
from the inspector or the log."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from core.topology import Topology
from tui.editing.selection import Selection

SCOPE_BINDINGS: list[BindingType] = [
    Binding("slash", "screen.open_filter", "Filter"),
    Binding("f", "focus_exchange", "Focus"),
    Binding("i", "fold_idle", "Fold idle"),
    Binding("escape", "unscope", "Show all", show=False),
]

SCOPE_RANK: list[tuple[str, ...]] = [("screen.open_filter",), ("focus_exchange", "fold_idle")]
"""Key bar rank groups for these keys: shown, like the editing keys, while the diagram has the focus."""


def exchange_of(topology: Topology, selection: Selection | None) -> str | None:
    """The exchange `f` focuses on: the selected one, a selected binding's, or the first exchange a
    selected queue (or a selected consumer's first queue) is bound to; None when there is none."""
    if selection is None:
        return None
    if selection.kind == "exchange":
        return selection.name if topology.exchange(selection.name) is not None else None
    if selection.kind == "binding":
        return selection.exchange if topology.exchange(selection.exchange) is not None else None
    queue = selection.name
    if selection.kind == "consumer":
        consumer = topology.consumer(selection.name)
        queue = consumer.queues[0] if consumer is not None and consumer.queues else ""
    spec = topology.queue(queue)
    if spec is None:
        return None
    return next((b.exchange for b in spec.bindings if topology.exchange(b.exchange) is not None), None)
