"""Wires into the grid a straight run at a time: a big topology has tens of thousands of wire cells,
many shared by several wires (an exchange's trunk carries all its bindings), so cells are never
visited one wire at a time in Python.

Each run fills flat per-cell arrays with slice assignments (in C): which cells a horizontal run
crosses, which a vertical one, the extra joins at corners and ends, and the highest wire role. A row's
glyphs then come from one `str.translate` of its cell codes. The picture is the same as joining every
wire cell by cell: a cell joins every way any wire through it does, and shows the highest ranked role.
"""

from __future__ import annotations

from tui.widgets.diagram_grid import Grid
from tui.widgets.diagram_layout import E, N, S, W, Wire

SOLID = {
    E | W: "─",
    N | S: "│",
    E | S: "╭",
    W | S: "╮",
    N | E: "╰",
    N | W: "╯",
    N | E | S: "├",
    N | W | S: "┤",
    E | W | S: "┬",
    N | E | W: "┴",
    N | E | S | W: "┼",
    E: "─",
    W: "─",
    N: "│",
    S: "│",
}
DASHED = {**SOLID, E | W: "╌", N | S: "╎", E: "╌", W: "╌", N: "╎", S: "╎"}
WIRE_RANK = {"wire_dim": 0, "wire_dead": 1, "wire": 2, "wire_match": 3}
"""Where wires share a cell, the highest ranked role shows."""
ROLES = sorted(WIRE_RANK, key=WIRE_RANK.__getitem__)
_OPPOSITE = {N: S, S: N, E: W, W: E}

# A cell's code: its join bits (low 4) and 1 + its role's rank (high 4); 0 means no wire.
_GLYPHS = {
    (rank + 1) << 4 | joins: (DASHED if role == "wire_dead" else SOLID).get(joins, "┼")
    for role, rank in WIRE_RANK.items()
    for joins in range(16)
}
_TRANSLATE = {0: " ", **_GLYPHS}
_ROLE_OF_CODE = ["bg" if code >> 4 == 0 else ROLES[(code >> 4) - 1] for code in range(80)]


def paint_wire_runs(grid: Grid, wires: list[tuple[Wire, str]]) -> None:
    """Draw `wires` (each with its role) into `grid`, then an arrow at each wire's target end."""
    width, size = grid.width, grid.width * grid.height
    across, down, ends, rank = bytearray(size), bytearray(size), bytearray(size), bytearray(size)
    for wire, role in sorted(wires, key=lambda item: WIRE_RANK[item[1]]):  # stable: the later wins a tie
        level = WIRE_RANK[role] + 1
        points = wire.points
        if len(points) == 1:
            x, y = points[0]
            rank[y * width + x] = level
            continue
        for i in range(len(points) - 1):
            (x0, y0), (x1, y1) = points[i], points[i + 1]
            a, b = y0 * width + x0, y1 * width + x1
            step = (1 if x1 > x0 else -1) if y0 == y1 else (width if y1 > y0 else -width)
            cells = slice(min(a, b), max(a, b) + 1, abs(step))
            count = (max(a, b) - min(a, b)) // abs(step) + 1
            rank[cells] = bytes([level]) * count
            inner = slice(min(a, b) + abs(step), max(a, b), abs(step))
            (across if y0 == y1 else down)[inner] = bytes([E | W if y0 == y1 else N | S]) * (count - 2)
            # Ends and corners: each joins the run it is on (and an end reaches on into its box).
            bit = E if x1 > x0 else W if x1 < x0 else S if y1 > y0 else N
            ends[a] |= bit | (_OPPOSITE[bit] if i == 0 else 0)
            ends[b] |= _OPPOSITE[bit] | (bit if i == len(points) - 2 else 0)
    joins = int.from_bytes(across) | int.from_bytes(down) | int.from_bytes(ends)
    codes = bytearray((joins | int.from_bytes(rank) << 4).to_bytes(size))
    # rank is at most 4 and joins at most 15, so the shifted OR never carries into the next byte.
    for y in range(grid.height):
        row = codes[y * width : (y + 1) * width]
        if not row.strip(b"\0"):
            continue
        glyphs = row.decode("latin-1").translate(_TRANSLATE)
        chars, roles = grid.chars[y], grid.roles[y]
        if chars.count(" ") == width and roles.count("bg") == width:  # nothing drawn here yet
            chars[:] = glyphs
            roles[:] = [_ROLE_OF_CODE[code] for code in row]
            continue
        for x, code in enumerate(row):
            if code:
                chars[x] = glyphs[x]
                roles[x] = _ROLE_OF_CODE[code]
    for wire, _role in wires:
        x, y = wire.end
        grid.put(x, y, "◀" if wire.kind == "dead" else "▶", _ROLE_OF_CODE[codes[y * width + x]])
