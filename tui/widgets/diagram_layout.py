"""Geometry of the diagram: where boxes sit and which cells each wire runs through.

Plain Python (no Textual) so the layout can be unit-tested; the canvas paints and animates on top of it.
Exchanges stand on the left, queues in the middle (one lane each), consumers on the right. Every wire is
a polyline of cells, so a token's position is just `path[int(fraction * len(path))]`; a wire keeps only
its corner points and builds its cells when first asked (200 queues make tens of thousands of cells).
Exchange-to-exchange bindings run in a margin left of the exchanges (only when there are any), out of
the way of the route and dead-letter trunks right of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

from core.topology import Topology

HEADER_ROWS = 1
"""One row of column titles above the lanes."""
QUEUE_H = 3
EXCHANGE_H = 4
CONSUMER_H = 5
MIN_WIDTH = 66
"""Below this the diagram keeps its width and the canvas scrolls sideways instead of squashing."""

LABEL_WHOLE = 24
"""Binding labels up to this long stay whole however narrow the view (the diagram scrolls instead)."""

Cell = tuple[int, int]
WireKey = tuple[str, str, str]
"""(kind, source, target): ("route", exchange, queue), ("consume", queue, consumer), ("dead", queue, dlx),
("link", source exchange, destination exchange)."""

# Connection bits of a wire cell: which neighbours it joins.
N, E, S, W = 1, 2, 4, 8


@dataclass(frozen=True)
class Box:
    """A node's rectangle; `entry_y` is the row wires come in on, `exit_y` the row they leave from."""

    kind: str
    name: str
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def mid_y(self) -> int:
        """The row wires attach to: the first inside row, or the only row of a one-line box."""
        return self.y + 1 if self.h > 1 else self.y

    @property
    def compact(self) -> bool:
        return self.h == 1

    def contains(self, x: int, y: int) -> bool:
        return self.x <= x < self.right and self.y <= y < self.bottom


@dataclass(frozen=True)
class Wire:
    """One wire from source to target: its corner points, and (built on first use) every cell it runs
    through with that cell's connection bits."""

    key: WireKey
    points: tuple[Cell, ...]
    """The polyline's ends and corners, no two in a row alike, each step orthogonal."""

    @property
    def kind(self) -> str:
        return self.key[0]

    @property
    def end(self) -> Cell:
        return self.points[-1]

    @property
    def path(self) -> tuple[Cell, ...]:
        return self._cells[0]

    @property
    def bits(self) -> tuple[int, ...]:
        return self._cells[1]

    @cached_property
    def _cells(self) -> tuple[tuple[Cell, ...], tuple[int, ...]]:
        cells = list(_cells(self.points))
        return tuple(cell for cell, _ in cells), tuple(joins for _, joins in cells)

    def segments(self) -> Iterator[tuple[Cell, Cell]]:
        """Each straight run as (first cell, last cell)."""
        return pairwise(self.points)


@dataclass(frozen=True)
class Label:
    """A binding label drawn on a route wire: `bindings` are (exchange, queue, binding index) it shows."""

    x: int
    y: int
    width: int
    queue: str
    parts: tuple[tuple[str, str, int], ...]
    """(text, exchange, binding index) for each binding of this queue, in order."""


@dataclass
class DiagramLayout:
    """Everything the painter and the token board need to place things."""

    width: int
    height: int
    pitch: int
    columns: tuple[int, int, int]
    """x of the exchange, queue and consumer columns (for the header row)."""
    top: int = HEADER_ROWS
    """First row of the diagram; the column titles sit on the row above."""
    legend_y: int | None = None
    """Row of the glyph legend, when the screen has one to spare."""
    exchanges: dict[str, Box] = field(default_factory=dict)
    queues: dict[str, Box] = field(default_factory=dict)
    consumers: dict[str, Box] = field(default_factory=dict)
    wires: dict[WireKey, Wire] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)

    def boxes(self) -> Iterable[Box]:
        yield from self.exchanges.values()
        yield from self.queues.values()
        yield from self.consumers.values()

    def box_at(self, x: int, y: int) -> Box | None:
        return next((b for b in self.boxes() if b.contains(x, y)), None)


def binding_text(exchange_type: str, routing_key: str, arguments: dict[str, object]) -> str:
    """How a binding reads on its wire: the pattern, `(all)` for fanout, `x-match` args for headers."""
    if exchange_type == "fanout":
        return "(fanout)"
    if exchange_type == "headers":
        mode = str(arguments.get("x-match", "all"))
        rest = " ".join(f"{k}={v}" for k, v in arguments.items() if k != "x-match")
        return f"{mode}: {rest}" if rest else mode
    return routing_key if routing_key else '""'


def link_labels(topology: Topology, exchange: str) -> list[str]:
    """What the bottom border of `exchange` says about the exchanges it takes from, fullest first:
    ` ← upstream a.# | *.b ` (each source with its binding keys), then ` ← upstream `; [] for none."""
    spec = topology.exchange(exchange)
    if spec is None or not spec.bindings:
        return []
    keys: dict[str, list[str]] = {}
    for b in spec.bindings:
        source = topology.exchange(b.exchange)
        text = binding_text(source.type if source else "", b.routing_key, dict(b.arguments))
        keys.setdefault(b.exchange, []).append(text)
    full = ", ".join(f"{name} {' | '.join(texts)}" for name, texts in keys.items())
    return [f" ← {full} ", f" ← {', '.join(keys)} "]


def _lanes(queues: int, height: int, has_dlx: bool) -> tuple[int, int]:
    """(queue box height, rows per queue lane): framed boxes while they fit, else one-line boxes (with
    a gap row for dead-letter wires), which also keep the scrolling short when nothing fits."""
    rows = height - HEADER_ROWS
    if queues * QUEUE_H <= rows - 1:
        return QUEUE_H, _clamp((rows - 1) // queues, QUEUE_H, QUEUE_H + 3)
    if queues * 2 - (0 if has_dlx else 1) <= rows:
        return 1, 2
    return 1, 2 if has_dlx else 1


def _dead_row(queue: Box) -> int:
    """A queue's dead-letter wire leaves from its bottom row (the gap row below a one-line box)."""
    return queue.y + queue.h - 1 if queue.h > 1 else queue.y + 1


def _label_text(topology: Topology, queue: str) -> str:
    """Every binding of `queue` as it reads on its wire, joined."""
    spec = topology.queue(queue)
    parts = []
    for b in spec.bindings if spec else ():
        ex = topology.exchange(b.exchange)
        if ex is not None:
            parts.append(binding_text(ex.type, b.routing_key, dict(b.arguments)))
    return " | ".join(parts)


def _box_widths(topology: Topology, width: int, gaps_want: int, one_line: bool) -> tuple[int, int, int]:
    """Exchange, queue and consumer column widths: names fit where they can, and boxes shrink before
    the binding labels between them are cut: first to a `comfort` width (room for their worded
    counts), then to a floor that still keeps every name whole (up to `cap`). When even the floors
    do not fit, the diagram grows wider than the view and scrolls."""
    # An exchange fed by others would like room for its label (link_labels) in its bottom border,
    # but only as a wish: the label shortens to the source names (or goes) before other boxes shrink.
    linked = [len(labels[0]) + 4 for e in topology.exchanges if (labels := link_labels(topology, e.name))]
    specs = (  # names, share %, comfort, floor, high %, cap
        ([e.name for e in topology.exchanges], 16, 12, 12, 24, 30),
        ([q.name for q in topology.queues], 24, 18, 16, 30, 44),
        ([c.name for c in topology.consumers], 22, 20, 14, 26, 40),
    )
    widths: list[int] = []
    levels: list[tuple[int, int]] = []
    # A name needs 2 cells more than its length in a top border; 8 in a one-line queue, whose
    # depth counts ("0r 0u" at the least) share its row.
    margins = (2, 8 if one_line else 2, 2)
    wishes = (max([0, *linked]), 0, 0)
    for (names, share, comfort, floor, high, cap), margin, wish in zip(specs, margins, wishes, strict=True):
        longest = max([8, *(len(n) for n in names)])
        whole = min(cap, longest + margin)
        want = max(longest + 6, wish, width * share // 100)
        low = max(comfort, whole)
        widths.append(_clamp(want, low, max(low, min(cap, width * high // 100))))
        levels.append((low, max(floor, whole)))
    for level in (0, 1):
        while sum(widths) + gaps_want > width:
            surplus = [w - lows[level] for w, lows in zip(widths, levels, strict=True)]
            i = max(range(3), key=lambda k: surplus[k])
            if surplus[i] <= 0:
                break
            widths[i] -= 1
    return widths[0], widths[1], widths[2]


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _stack(
    desired: list[tuple[float, str]],
    height: int,
    gap: int,
    top: int,
    bad: Callable[[str, int], bool] = lambda _name, _y: False,
) -> dict[str, int]:
    """Place boxes of `height` at their desired rows, in order, never overlapping (nor on `bad` rows)."""
    out: dict[str, int] = {}
    next_free = top
    for want, name in sorted(desired, key=lambda item: item[0]):
        y = max(next_free, round(want))
        while bad(name, y):
            y += 1
        out[name] = y
        next_free = y + height + gap
    return out


def _step(a: Cell, b: Cell) -> int:
    """The direction bit from `a` towards `b` along one orthogonal run."""
    (x0, y0), (x1, y1) = a, b
    return E if x1 > x0 else W if x1 < x0 else S if y1 > y0 else N


def _cells(points: tuple[Cell, ...]) -> Iterator[tuple[Cell, int]]:
    """Every cell along an orthogonal polyline with its connection bits: a run's inner cells join
    both ways along it, a corner joins the run in and the run out, and the ends reach into the boxes
    they join."""
    if len(points) == 1:
        yield points[0], 0
        return
    last = len(points) - 2
    for i, (a, b) in enumerate(pairwise(points)):
        d = _step(a, b)
        back = _opposite(d)
        (x0, y0), (x1, y1) = a, b
        if i == 0:
            yield a, d | back
        dx, dy = (x1 > x0) - (x1 < x0), (y1 > y0) - (y1 < y0)
        through = d | back
        for n in range(1, abs(x1 - x0) + abs(y1 - y0)):
            yield (x0 + n * dx, y0 + n * dy), through
        if i == last:
            yield b, d | back
        else:
            yield b, back | _step(b, points[i + 2])


OPPOSITE = {N: S, S: N, E: W, W: E}


def _opposite(bit: int) -> int:
    return OPPOSITE.get(bit, 0)


def compute_layout(topology: Topology, width: int, height: int) -> DiagramLayout:
    """Lay the topology out in `width` x `height` cells (taller or wider when it cannot fit: it scrolls).

    A diagram shorter than the screen is centred vertically below the column titles.
    """
    layout = _compute(topology, width, height, HEADER_ROWS)
    spare = height - layout.height
    if spare >= 2:
        layout = _compute(topology, width, height, HEADER_ROWS + spare // 2)
    return layout


def _links(topology: Topology) -> list[tuple[str, str]]:
    """(source, destination) of each exchange-to-exchange wire: one per pair, however many keys."""
    names = {e.name for e in topology.exchanges}
    pairs = [(b.exchange, e.name) for e in topology.exchanges for b in e.bindings if b.exchange in names]
    return list(dict.fromkeys(pairs))


def _compute(topology: Topology, width: int, height: int, top: int) -> DiagramLayout:
    width = max(width, MIN_WIDTH)
    links = _links(topology)
    margin = 2 * len(links) + 1 if links else 0  # left of the exchanges: a trunk per link, and a gap
    queues = list(topology.queues)
    has_dlx = any(q.dead_letter_exchange for q in queues)
    queue_h, pitch = _lanes(max(1, len(queues)), height, has_dlx)
    gap = min(1, pitch - queue_h)

    routed_exchanges = [
        e.name for e in topology.exchanges if any(b.exchange == e.name for q in queues for b in q.bindings)
    ]
    dlx_names = sorted(
        {q.dead_letter_exchange for q in queues if q.dead_letter_exchange}
        & {e.name for e in topology.exchanges}
    )
    trunks = 2 * (len(routed_exchanges) + len(dlx_names)) + 1
    labels = [_label_text(topology, q.name) for q in queues]
    g1_want = trunks + max([8, *(len(t) + 5 for t in labels)])
    g1_min = trunks + max(8, 3 + min(LABEL_WHOLE, max([0, *(len(t) for t in labels)])))
    g2_min = 2 * len(topology.consumers) + 4
    widths = _box_widths(topology, width - margin, g1_want + g2_min, one_line=queue_h == 1)
    ex_w, q_w, c_w = widths
    rest = width - margin - sum(widths)
    g1 = max(g1_min, min(rest - g2_min, max(g1_want, rest * 60 // 100)))
    g2 = max(g2_min, rest - g1)
    width = max(width, margin + ex_w + g1 + q_w + g2 + c_w)
    ex_x, q_x = margin, margin + ex_w + g1
    c_x = q_x + q_w + g2
    layout = DiagramLayout(width=width, height=0, pitch=pitch, columns=(ex_x, q_x, c_x), top=top)

    for i, q in enumerate(queues):
        layout.queues[q.name] = Box("queue", q.name, q_x, top + i * pitch, q_w, queue_h)

    # Exchanges sit level with the middle of the queues they feed; a dead-letter exchange's incoming
    # wire (its third row) must not run along a binding wire, so it steps off queue middle rows.
    mids = {b.mid_y for b in layout.queues.values()}
    dl_targets = set(dlx_names)
    desired: list[tuple[float, str]] = []
    for order, ex in enumerate(topology.exchanges):
        rows = [layout.queues[q.name].mid_y for q in queues for b in q.bindings if b.exchange == ex.name]
        if not rows:
            rows = [_dead_row(layout.queues[q.name]) for q in queues if q.dead_letter_exchange == ex.name]
        want = (sum(rows) / len(rows) - 1) if rows else top + order * (EXCHANGE_H + 1)
        desired.append((want, ex.name))
    placed = _stack(desired, EXCHANGE_H, 1, top, bad=lambda name, y: name in dl_targets and y + 2 in mids)
    for name, y in placed.items():
        layout.exchanges[name] = Box("exchange", name, ex_x, y, ex_w, EXCHANGE_H)

    desired = []
    for order, c in enumerate(topology.consumers):
        rows = [layout.queues[q].mid_y for q in c.queues if q in layout.queues]
        want = (sum(rows) / len(rows) - 1) if rows else top + order * (CONSUMER_H + 1)
        desired.append((want, c.name))
    for name, y in _stack(desired, CONSUMER_H, gap, top).items():
        layout.consumers[name] = Box("consumer", name, c_x, y, c_w, CONSUMER_H)

    _route_wires(layout, topology, routed_exchanges, dlx_names)
    _consume_wires(layout, topology)
    _link_wires(layout, links)
    bottoms = [b.bottom for b in layout.boxes()] or [top]
    content = max([*bottoms, *(y + 1 for w in layout.wires.values() for _, y in w.points)])
    layout.height = content + 1 if content < height else content  # a margin row when there is room
    if content + 2 <= height:
        layout.legend_y = content + 1  # what the glyphs mean, below a blank row
        layout.height = content + 2
    return layout


def _route_wires(layout: DiagramLayout, topology: Topology, routed: list[str], dlx_names: list[str]) -> None:
    """Exchange -> queue wires on one trunk per exchange; queue -> DLX wires on one trunk per DLX."""
    ex_right = next(iter(layout.exchanges.values())).right if layout.exchanges else 0
    q_x = layout.columns[1]
    trunk = {name: ex_right + 2 + 2 * i for i, name in enumerate(routed)}
    dl_trunk = {name: ex_right + 2 + 2 * (len(routed) + i) for i, name in enumerate(dlx_names)}
    pending: list[tuple[int, str, tuple[tuple[str, str, int], ...]]] = []
    for q in topology.queues:
        qbox = layout.queues[q.name]
        parts: list[tuple[str, str, int]] = []
        for index, b in enumerate(q.bindings):
            ex = layout.exchanges.get(b.exchange)
            spec = topology.exchange(b.exchange)
            if ex is None or spec is None:
                continue
            parts.append((binding_text(spec.type, b.routing_key, dict(b.arguments)), b.exchange, index))
            key: WireKey = ("route", b.exchange, q.name)
            if key in layout.wires:
                continue
            tx = trunk[b.exchange]
            points = [(ex.right, ex.mid_y), (tx, ex.mid_y), (tx, qbox.mid_y), (q_x - 1, qbox.mid_y)]
            layout.wires[key] = Wire(key, _dedupe(points))
        if parts:
            pending.append((qbox.mid_y, q.name, tuple(parts)))
        dlx = q.dead_letter_exchange
        if dlx and dlx in layout.exchanges:
            ex = layout.exchanges[dlx]
            tx = dl_trunk[dlx]
            row = _dead_row(qbox)
            points = [(q_x - 1, row), (tx, row), (tx, ex.y + 2), (ex.right, ex.y + 2)]
            layout.wires[("dead", q.name, dlx)] = Wire(("dead", q.name, dlx), _dedupe(points))
    # A label starts just right of the last vertical wire crossing its row, so it never hides one.
    # Every cell of a vertical run joins up or down (its corners too); a horizontal run's do not.
    crossing: dict[int, int] = {}
    for wire in layout.wires.values():
        for (x, y0), (x1, y1) in wire.segments():
            if x == x1 and x < q_x:
                for y in range(min(y0, y1), max(y0, y1) + 1):
                    if crossing.get(y, -1) < x:
                        crossing[y] = x
    for row, name, shown in pending:
        start = crossing.get(row, ex_right) + 2
        layout.labels.append(Label(start, row, q_x - 2 - start, name, shown))


def _link_wires(layout: DiagramLayout, links: list[tuple[str, str]]) -> None:
    """Exchange -> exchange wires in the left margin, one trunk each (the first link outermost): out
    of the source's left side on its first inside row, into the destination's left side on its second,
    so an exchange that is both never has two wires on one row."""
    for i, (source, destination) in enumerate(links):
        src, dst = layout.exchanges[source], layout.exchanges[destination]
        tx = 2 * i
        points = [(src.x - 1, src.mid_y), (tx, src.mid_y), (tx, dst.y + 2), (dst.x - 1, dst.y + 2)]
        key: WireKey = ("link", source, destination)
        layout.wires[key] = Wire(key, _dedupe(points))


def _consume_wires(layout: DiagramLayout, topology: Topology) -> None:
    """Queue -> consumer wires, one trunk per consumer just left of the consumer column."""
    c_x = layout.columns[2]
    count = len(topology.consumers)
    for i, c in enumerate(topology.consumers):
        cbox = layout.consumers[c.name]
        tx = c_x - 3 - 2 * (count - 1 - i)
        for qn in c.queues:
            qbox = layout.queues.get(qn)
            if qbox is None:
                continue
            points = [(qbox.right, qbox.mid_y), (tx, qbox.mid_y), (tx, cbox.mid_y), (c_x - 1, cbox.mid_y)]
            layout.wires[("consume", qn, c.name)] = Wire(("consume", qn, c.name), _dedupe(points))


def _dedupe(points: list[Cell]) -> tuple[Cell, ...]:
    out: list[Cell] = []
    for p in points:
        if not out or out[-1] != p:
            out.append(p)
    return tuple(out)
