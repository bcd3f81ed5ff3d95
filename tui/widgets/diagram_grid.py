"""A character grid with a style role per cell: what the diagram is painted into, and read back from.

Plain Python (no Textual). Text goes in character by character (never through markup), cut to its
room by terminal cell width, so wide characters and control characters cannot misalign a row.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from rich.cells import get_character_cell_size

from tui.text import visible

TOKEN_ROLES = 6


def token_role(msg: str) -> str:
    """A stable colour per message (crc32, not hash(): snapshots must not depend on PYTHONHASHSEED)."""
    return f"tok{zlib.crc32(msg.encode()) % TOKEN_ROLES}"


def clean(text: str) -> str:
    """Printable only: control characters from brokers would break the terminal row (tui.text.visible
    shows them as escapes, as every other view does)."""
    return visible(text)


@dataclass
class Grid:
    """Characters and roles, row by row; a wide character's second cell holds ""."""

    width: int
    height: int
    chars: list[list[str]] = field(init=False)
    roles: list[list[str]] = field(init=False)
    hits: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    """cell -> ("token", msg id) for the waiting dots painted in queue boxes."""

    def __post_init__(self) -> None:
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.roles = [["bg"] * self.width for _ in range(self.height)]

    def copy(self) -> Grid:
        out = Grid.__new__(Grid)
        out.width, out.height = self.width, self.height
        out.chars = [list(row) for row in self.chars]
        out.roles = [list(row) for row in self.roles]
        out.hits = dict(self.hits)
        return out

    def put(self, x: int, y: int, ch: str, role: str) -> None:
        if 0 <= y < self.height and 0 <= x < self.width:
            self.chars[y][x] = ch
            self.roles[y][x] = role

    def text(self, x: int, y: int, text: str, role: str, max_cells: int) -> int:
        """Write `text` literally from x, cut with "…" to `max_cells`; returns the cells used."""
        text = clean(text)
        sizes = [get_character_cell_size(ch) for ch in text]
        if sum(sizes) > max_cells:
            keep, used = [], 0
            for ch, size in zip(text, sizes, strict=True):
                if used + size > max_cells - 1:
                    break
                keep.append(ch)
                used += size
            text = "".join(keep) + "…" if max_cells > 0 else ""
            sizes = [get_character_cell_size(ch) for ch in text]
        cx = x
        for ch, size in zip(text, sizes, strict=True):
            if size == 0:
                continue
            self.put(cx, y, ch, role)
            if size == 2:
                self.put(cx + 1, y, "", role)
            cx += size
        return cx - x

    def runs(self, y: int) -> list[tuple[str, str]]:
        """Row `y` as (text, role) runs."""
        out: list[tuple[str, str]] = []
        chars, roles = self.chars[y], self.roles[y]
        start = 0
        for x in range(1, self.width + 1):
            if x == self.width or roles[x] != roles[start]:
                out.append(("".join(chars[start:x]), roles[start]))
                start = x
        return out

    def line(self, y: int) -> str:
        return "".join(self.chars[y])
