"""Undo and redo: each edit kept with the changes that reverse it (core.topology_undo.inverse).

Plain Python: the editor makes an edit's `backward` changes through the engine to undo it, and its
`forward` ones again to redo it; a new edit forgets what was undone.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.topology_changes import TopologyChange


@dataclass(frozen=True)
class Edit:
    """One edit as the user made it: a label, its changes, and the changes that undo them."""

    label: str
    forward: tuple[TopologyChange, ...]
    backward: tuple[TopologyChange, ...]


class History:
    """Edits made (newest last) and edits undone (the next redo last)."""

    def __init__(self) -> None:
        self.done: list[Edit] = []
        self.undone: list[Edit] = []

    def record(self, edit: Edit) -> None:
        self.done.append(edit)
        self.undone.clear()

    def next_undo(self) -> Edit | None:
        return self.done[-1] if self.done else None

    def next_redo(self) -> Edit | None:
        return self.undone[-1] if self.undone else None

    def undid(self) -> None:
        """The newest edit was undone."""
        self.undone.append(self.done.pop())

    def redid(self) -> None:
        """The newest undone edit was made again."""
        self.done.append(self.undone.pop())
