"""Paint the still diagram (boxes, wires, labels, counts) into a grid of characters with style roles.

Plain Python (no Textual): the canvas maps roles to theme styles and caches one Strip per row; tests
read the grid as text. User and broker text goes in character by character, never through markup.
"""

from __future__ import annotations

from core.ledger import Ledger
from core.queue_marks import queue_marks
from tui.widgets.diagram_grid import Grid, clean, token_role
from tui.widgets.diagram_layout import Box, DiagramLayout, link_labels
from tui.widgets.diagram_lens import Lens
from tui.widgets.diagram_wires import paint_wire_runs

STATE_GLYPH = {
    "idle": "○",
    "working": "●",
    "paused": "‖",
    "crashed": "✗",
    "disconnected": "⌁",
    "stopped": "■",
    "waiting": "◆",  # a manual consumer holds a message until the user decides (h opens the choices)
}
DOTS_MAX = 12


def paint_wires(layout: DiagramLayout, lens: Lens | None) -> Grid:
    """The part that changes only with the layout or the lens: titles, wires and binding labels."""
    grid = Grid(layout.width, layout.height)
    _header(grid, layout)
    _wires(grid, layout, lens)
    _labels(grid, layout, lens)
    _legend(grid, layout)
    return grid


LEGEND = (
    ("●", "tok0", "message"),
    ("✓", "ack", "acked"),
    ("↺", "requeue", "requeued"),
    ("☠", "dead", "dead-lettered"),
    ("✗", "unroutable", "unroutable"),
    ("\u00d7N", "bundle", "burst"),
)


def _legend(grid: Grid, layout: DiagramLayout) -> None:
    """One row saying what the glyphs mean, for learners (whole entries only: fewer on narrow screens)."""
    if layout.legend_y is None:
        return
    x = 1
    for glyph, role, meaning in LEGEND:
        room = layout.width - x
        if room < len(glyph) + len(meaning) + 1:
            break
        x += grid.text(x, layout.legend_y, glyph, role, room)
        x += grid.text(x, layout.legend_y, f" {meaning}", "muted", layout.width - x) + 3


def paint(layout: DiagramLayout, model: Ledger, lens: Lens | None, wires: Grid | None = None) -> Grid:
    """The whole still picture; pass `wires` (from paint_wires, same layout and lens) to reuse it."""
    base = wires if wires is not None else paint_wires(layout, lens)
    grid = base.copy()
    for box in layout.exchanges.values():
        _exchange(grid, layout, model, lens, box.name)
    words = depth_words(layout, model)
    deepest = _deepest(model)
    for box in layout.queues.values():
        _queue(grid, layout, model, lens, box.name, words, deepest)
    for box in layout.consumers.values():
        _consumer(grid, layout, model, box.name)
    return grid


def _header(grid: Grid, layout: DiagramLayout) -> None:
    ex_x, q_x, c_x = layout.columns
    y = layout.top - 1
    grid.text(ex_x + 1, y, "EXCHANGES", "header", q_x - ex_x - 2)
    grid.text(q_x + 1, y, "QUEUES", "header", c_x - q_x - 2)
    grid.text(c_x + 1, y, "CONSUMERS", "header", layout.width - c_x - 1)


def _wire_role(kind: str, wire_key: tuple[str, str, str], lens: Lens | None) -> str:
    if kind == "dead":
        return "wire_dead"
    if lens is None:
        return "wire"
    if kind == "link":  # lit when the lens's message goes on from the source through the destination
        _, source, destination = wire_key
        if lens.exchanges >= {source, destination}:
            return "wire_match"
        return "wire_dim" if source in lens.exchanges else "wire"
    if kind == "route":
        _, ex, q = wire_key
        if any(b[0] == ex and b[1] == q for b in lens.bindings):
            return "wire_match"
        return "wire_dim" if ex in lens.exchanges else "wire"
    _, q, _c = wire_key
    return "wire_match" if q in lens.queues else "wire_dim"


def _wires(grid: Grid, layout: DiagramLayout, lens: Lens | None) -> None:
    paint_wire_runs(grid, [(wire, _wire_role(wire.kind, key, lens)) for key, wire in layout.wires.items()])


def _labels(grid: Grid, layout: DiagramLayout, lens: Lens | None) -> None:
    for label in layout.labels:
        if label.width < 3:
            continue
        x, used = label.x, 0
        for n, (text, ex, index) in enumerate(label.parts):
            if n:
                used += grid.text(x + used, label.y, " | ", "label", label.width - used)
            role = "label"
            if lens is not None and ex in lens.exchanges:
                role = "label_match" if (ex, label.queue, index) in lens.bindings else "label_dim"
            room = label.width - used
            if room <= 0:
                break
            body = f" {text} " if len(text) + 2 <= room else text
            used += grid.text(x + used, label.y, body, role, room)


def _frame(grid: Grid, x: int, y: int, w: int, h: int, role: str) -> None:
    grid.put(x, y, "╭", role)
    grid.put(x + w - 1, y, "╮", role)
    grid.put(x, y + h - 1, "╰", role)
    grid.put(x + w - 1, y + h - 1, "╯", role)
    for cx in range(x + 1, x + w - 1):
        grid.put(cx, y, "─", role)
        grid.put(cx, y + h - 1, "─", role)
    for cy in range(y + 1, y + h - 1):
        grid.put(x, cy, "│", role)
        grid.put(x + w - 1, cy, "│", role)
        for cx in range(x + 1, x + w - 1):
            grid.put(cx, cy, " ", "box")


def _title(grid: Grid, x: int, y: int, w: int, name: str, role: str) -> int:
    """A box's name in its top border: padded when it fits, bare (or cut) when it does not."""
    name = clean(name)
    if len(name) + 2 <= w - 4:
        return grid.text(x + 2, y, f" {name} ", role, w - 4)
    return grid.text(x + 1, y, name, role, w - 2) - 1


def _parts(grid: Grid, x: int, y: int, width: int, options: list[list[tuple[str, str]]]) -> None:
    """Write the first option (a list of (text, role)) that fits `width`, else the last one cut."""
    for parts in options:
        if sum(len(t) for t, _ in parts) <= width:
            break
    used = 0
    for text, role in parts:
        if used >= width:
            break
        used += grid.text(x + used, y, text, role, width - used)


def _exchange(grid: Grid, layout: DiagramLayout, model: Ledger, lens: Lens | None, name: str) -> None:
    box = layout.exchanges[name]
    spec = model.topology.exchange(name)
    stats = model.exchanges[name]
    border = "ex_border"
    if lens is not None and name in lens.exchanges:
        border = "bad" if name in lens.unroutable else "match"
    _frame(grid, box.x, box.y, box.w, box.h, border)
    _title(grid, box.x, box.y, box.w, name, "ex_name")
    inner = box.w - 4
    kind = spec.type if spec else "?"
    is_dlx = any(q.dead_letter_exchange == name for q in model.topology.queues)
    _parts(
        grid,
        box.x + 2,
        box.y + 1,
        inner,
        [
            [(kind, "ex_type"), (" · dead letters", "dead")] if is_dlx else [(kind, "ex_type")],
            [(kind, "ex_type"), (" · DLX", "dead")] if is_dlx else [(kind, "ex_type")],
            [(kind, "ex_type")],
        ],
    )
    # Exchange-to-exchange bindings come in as wires on the left (diagram_layout); the bottom border,
    # just below where they arrive, labels them: each source with its binding keys, or the sources
    # alone when that is too long, whole or not at all (the inspector always lists them).
    fed = next((f for f in map(clean, link_labels(model.topology, name)) if len(f) <= box.w - 4), "")
    if fed:
        grid.text(box.x + 2, box.y + box.h - 1, fed, "muted", len(fed))
    row: list[tuple[str, str]] = [("in ", "muted"), (str(stats.published), "count")]
    if lens is not None and name in lens.exchanges:
        row = [("✗ no match", "bad")] if name in lens.unroutable else [("✓ routes", "match")]
    else:
        if stats.unroutable:
            row.append((f" ✗{stats.unroutable}", "unroutable"))
        if stats.returned:
            row.append((f" ↩{stats.returned}", "returned"))
    _parts(grid, box.x + 2, box.y + 2, inner, [row])


DEPTH_WORDS = ((" ready ", " unacked"), (" rdy ", " unack"), ("r ", "u"))
"""How queue depths read, fullest first; one of them for every queue on the screen (depth_words)."""


def _depth_room(box: Box) -> int:
    """Cells a queue box has for its depth counts: inside the frame, or right of a one-line box's name."""
    if box.compact:
        return box.w - (min(len(clean(box.name)), box.w - 8) + 1) - 2
    return box.w - 4


def depth_words(layout: DiagramLayout, model: Ledger) -> tuple[str, str]:
    """The fullest DEPTH_WORDS every queue box can show whole: a column of queues reads one way, not
    `0 ready 0 unacked` beside `0 rdy 0 unack` (the narrowest box, with its counts, decides)."""
    for words in DEPTH_WORDS:
        if all(
            _width(_counts(model.queues[name].ready, words[0], model.queues[name].unacked, words[1]))
            <= _depth_room(box)
            for name, box in layout.queues.items()
        ):
            return words
    return DEPTH_WORDS[-1]


def _width(parts: list[tuple[str, str]]) -> int:
    return sum(len(text) for text, _ in parts)


def _queue(
    grid: Grid,
    layout: DiagramLayout,
    model: Ledger,
    lens: Lens | None,
    name: str,
    words: tuple[str, str] = DEPTH_WORDS[0],
    deepest: int | None = None,
) -> None:
    box = layout.queues[name]
    deepest = _deepest(model) if deepest is None else deepest
    spec = model.topology.queue(name)
    stats = model.queues[name]
    if box.compact:
        _queue_line(grid, layout, model, lens, name, words, deepest)
        return
    border = "q_border"
    if lens is not None:
        border = "match" if name in lens.queues else "dim"
    _frame(grid, box.x, box.y, box.w, box.h, border)
    inner = box.w - 4
    extras = [mark.short for mark in queue_marks(spec.queue_arguments())] if spec is not None else []
    if spec is not None and spec.message_ttl is not None:
        extras.append(f"ttl {spec.message_ttl:g}s")
    if spec is not None and spec.max_length is not None:
        extras.append(f"max {spec.max_length}")
    used = _title(grid, box.x, box.y, box.w, name, "q_name")
    while extras:  # as many whole marks as fit beside the name, never a cut one
        tail = " " + " ".join(extras) + " "
        if used + len(tail) + 1 <= inner:
            grid.text(box.x + 2 + inner - len(tail), box.y, tail, "muted", len(tail))
            break
        extras.pop()
    # Waiting messages: a few coloured dots (as many as the counts leave room for), then the counts.
    chosen = _counts(stats.ready, words[0], stats.unacked, words[1])
    room = inner - _width(chosen) - 1
    dots_w = max(0, min(stats.ready, room, DOTS_MAX))
    shown = list(stats.waiting)[:dots_w]
    x = box.x + 2
    for i in range(dots_w):
        msg = shown[i] if i < len(shown) else ""
        grid.put(x + i, box.mid_y, "●", token_role(msg) if msg else "muted")
        if msg:
            grid.hits[(x + i, box.mid_y)] = ("token", msg)
    if stats.ready > dots_w > 0:
        grid.put(x + dots_w - 1, box.mid_y, "+", "muted")
        grid.hits.pop((x + dots_w - 1, box.mid_y), None)
    used = dots_w + 1 if dots_w else 0
    _parts(grid, x + used, box.mid_y, inner - used, [chosen])
    # The depth bar runs along the bottom border.
    cap = (spec.max_length if spec else None) or deepest
    bar_w = box.w - 2
    filled = min(bar_w, round(stats.ready / cap * bar_w)) if cap else 0
    if stats.ready and not filled:
        filled = 1
    frac = stats.ready / cap if cap else 0
    bar_role = "bar" + _fullness(frac, spec.max_length if spec else None)
    for i in range(filled):
        grid.put(box.x + 1 + i, box.y + 2, "━", bar_role)
    if spec is not None and spec.max_length:
        label = f" {stats.ready}/{spec.max_length} "
        if len(label) < bar_w - 2:
            grid.text(box.right - 1 - len(label), box.y + 2, label, "muted", len(label))


def _queue_line(
    grid: Grid,
    layout: DiagramLayout,
    model: Ledger,
    lens: Lens | None,
    name: str,
    words: tuple[str, str],
    deepest: int,
) -> None:
    """A one-line queue for crowded screens: name, dots and counts on a panel whose filled part is
    the depth bar."""
    box = layout.queues[name]
    spec = model.topology.queue(name)
    stats = model.queues[name]
    cap = (spec.max_length if spec else None) or deepest
    frac = stats.ready / cap if cap else 0
    filled = min(box.w, max(1 if stats.ready else 0, round(frac * box.w)))
    fill = "qbar" + _fullness(frac, spec.max_length if spec else None)
    name_role = "q_name"
    if lens is not None:
        name_role = "match" if name in lens.queues else "dim"
    for i in range(box.w):
        grid.put(box.x + i, box.y, " ", "box")
    used = grid.text(box.x + 1, box.y, name, name_role, box.w - 8) + 1
    chosen = _counts(stats.ready, words[0], stats.unacked, words[1])
    width = _width(chosen)
    x = box.right - 1 - width
    for text, role in chosen:
        x += grid.text(x, box.y, text, role, box.right - 1 - x)
    dots = max(0, min(stats.ready, box.right - 2 - width - (box.x + used + 1), DOTS_MAX))
    for i, msg in enumerate(list(stats.waiting)[:dots]):
        grid.put(box.x + used + 1 + i, box.y, "●", token_role(msg))
        grid.hits[(box.x + used + 1 + i, box.y)] = ("token", msg)
    for i in range(box.w):  # every cell takes the panel colour, the first `filled` the bar's
        role = grid.roles[box.y][box.x + i]
        grid.roles[box.y][box.x + i] = f"{role}@{fill if i < filled else 'qbg'}"


def _fullness(frac: float, max_length: int | None) -> str:
    """Bar colour suffix: warning colours only against a real limit (max_length); without one the
    bar compares queues with each other, so the deepest is not alarming, just the longest."""
    if not max_length:
        return "_rel"
    return "_ok" if frac < 0.5 else "_warn" if frac < 0.85 else "_full"


def _deepest(model: Ledger) -> int:
    """What a full depth bar means for a queue with no max length: the deepest queue (at least 10);
    worked out once a paint, not once a queue (200 queues made that quadratic)."""
    return max([10, *(q.ready for q in model.queues.values())])


def _counts(ready: int, ready_word: str, unacked: int, unacked_word: str) -> list[tuple[str, str]]:
    return [(str(ready), "count"), (ready_word, "muted"), (str(unacked), "count"), (unacked_word, "muted")]


def _consumer(grid: Grid, layout: DiagramLayout, model: Ledger, name: str) -> None:
    box = layout.consumers[name]
    spec = model.topology.consumer(name)
    stats = model.consumers[name]
    _frame(grid, box.x, box.y, box.w, box.h, "c_border")
    inner = box.w - 4
    pf = f" pf {spec.prefetch} " if spec is not None else ""
    if spec is not None and spec.auto_ack:  # no-ack: RabbitMQ settles on sending, prefetch is moot
        pf = " no-ack "
    used = _title(grid, box.x, box.y, box.w, name, "c_name")
    if pf and used + len(pf) + 1 <= inner:
        grid.text(box.x + 2 + inner - len(pf), box.y, pf, "muted", len(pf))
    state = stats.state or "idle"
    role = f"st_{state}" if state in STATE_GLYPH else "muted"
    row: list[tuple[str, str]] = [(STATE_GLYPH.get(state, "?") + " ", role), (state, role)]
    if spec is not None and spec.foreign and state == "idle":  # discovered: another program's
        row = [("◇ ", "muted"), ("not mqscope's", "muted")]
    if len(stats.in_hand) > 1:
        row.append((f" · {len(stats.in_hand)} in hand", "muted"))
    elif state == "waiting":
        row.append((" for you: h", "muted"))
    _parts(grid, box.x + 2, box.mid_y, inner, [row, row[:2]])
    # The message in its hands (the newest when prefetch lets it hold several), and where from.
    if stats.in_hand:
        msg, queue = stats.in_hand[-1]
        _parts(
            grid,
            box.x + 2,
            box.y + 2,
            inner,
            [
                [("▸ ", "muted"), (msg, token_role(msg)), (" from ", "muted"), (queue, "muted")],
                [("▸ ", "muted"), (msg, token_role(msg))],
            ],
        )
        for cx in range(box.x + 4, min(box.right - 2, box.x + 4 + len(msg))):
            grid.hits[(cx, box.y + 2)] = ("token", msg)
    else:
        grid.text(box.x + 2, box.y + 2, "▸ -", "muted", inner)
    c = stats
    counts = [(str(c.processed), "count")]
    wordy = [(" ✓acked ", "ack"), (" ↺requeued ", "requeue"), (" ☠dead ", "dead")]
    short = [(" ✓", "ack"), (" ↺", "requeue"), (" ☠", "dead")]
    numbers = [(str(n), "count") for n in (c.acked, c.requeued, c.dead_lettered)]

    def mix(marks: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [part for pair in zip(marks, numbers, strict=True) for part in pair]

    _parts(
        grid,
        box.x + 2,
        box.y + 3,
        inner,
        [
            [("done ", "muted"), *counts, *mix(wordy)],
            [("done ", "muted"), *counts, *mix(short)],
            [*counts, *mix(short)],
        ],
    )
