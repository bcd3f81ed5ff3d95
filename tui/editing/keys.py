"""The diagram's editing keys: they belong to the canvas, so the key bar shows them only while the
diagram has the focus (and typing in the lens never triggers them)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

CANVAS_BINDINGS: list[BindingType] = [
    Binding("up", "move_selection('up')", "Select up", show=False),
    Binding("down", "move_selection('down')", "Select down", show=False),
    Binding("left", "move_selection('left')", "Select left", show=False),
    Binding("right", "move_selection('right')", "Select right", show=False),
    Binding("a", "edit_request('add')", "Add"),
    Binding("e", "edit_request('edit')", "Edit"),
    Binding("enter", "activate", "Edit", show=False),
    Binding("space", "mark", "Mark", show=False),
    Binding("d", "edit_request('delete')", "Delete"),
    Binding("delete", "edit_request('delete')", "Delete", show=False),
    Binding("u", "edit_request('undo')", "Undo"),
    Binding("ctrl+z", "edit_request('undo')", "Undo", show=False),
    Binding("r", "edit_request('redo')", "Redo"),
    Binding("ctrl+y", "edit_request('redo')", "Redo", show=False),
]

EDIT_RANK: list[tuple[str, ...]] = [
    ("edit_request('add')", "edit_request('edit')", "edit_request('delete')"),
    ("edit_request('undo')", "edit_request('redo')"),
]
"""Key bar rank groups put before the teaching controls: with the diagram focused, editing comes first."""
