"""The diagram's keys for big topologies (filter, focus, fold, and Esc to widen again). The filter is
the session screen's: its `/` also works (unshown) from the inspector or the log."""

from __future__ import annotations

from textual.binding import Binding, BindingType

SCOPE_BINDINGS: list[BindingType] = [
    Binding("slash", "screen.open_filter", "Filter"),
    Binding("f", "focus_exchange", "Focus"),
    Binding("i", "fold_idle", "Fold idle"),
    Binding("escape", "unscope", "Show all", show=False),
]

SCOPE_RANK: list[tuple[str, ...]] = [("screen.open_filter",), ("focus_exchange", "fold_idle")]
"""Key bar rank groups for these keys: shown, like the editing keys, while the diagram has the focus."""
