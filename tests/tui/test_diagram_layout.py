"""Flow diagram geometry and painting, in plain Python: no overlaps, wires that join the right boxes,
12 queues fitting at 200x50, scrolling beyond, and user text painted literally."""

from __future__ import annotations

import itertools
import re

import pytest
from rich.cells import cell_len

from core.events import QueueDepth
from core.ledger import Ledger
from core.scenario import load_scenario
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from tui.widgets.diagram_grid import Grid
from tui.widgets.diagram_layout import LABEL_WHOLE, MIN_WIDTH, Box, DiagramLayout, compute_layout
from tui.widgets.diagram_lens import lens_for
from tui.widgets.diagram_paint import paint

SCENARIOS = ("seed", "dead_letter", "headers", "twelve")
SIZES = ((66, 20), (80, 24), (120, 40), (200, 50))


def many_queues(n: int) -> Topology:
    queues = tuple(QueueSpec(f"queue_{i:02d}", (BindingSpec("ex", f"k{i}.#"),)) for i in range(n))
    return Topology(
        (ExchangeSpec("ex", "topic"),),
        queues,
        (ConsumerSpec("c", tuple(q.name for q in queues)),),
    ).validate()


def overlaps(a: Box, b: Box) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("size", SIZES)
def test_boxes_fit_and_never_overlap(scenario: str, size: tuple[int, int]) -> None:
    layout = compute_layout(load_scenario(scenario).topology, *size)
    boxes = list(layout.boxes())
    if size[0] >= 80:
        assert layout.width == size[0], "from 80 columns up the diagram fits the width exactly"
    else:
        assert MIN_WIDTH <= layout.width <= 78, "narrower screens scroll sideways, to 80 columns' width"
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.right <= layout.width and a.y > 0 and a.bottom <= layout.height
        for b in boxes[i + 1 :]:
            assert not overlaps(a, b), (a, b)


def _adjacent(cell: tuple[int, int], box: Box) -> bool:
    x, y = cell
    return box.y <= y < box.bottom and x in (box.x - 1, box.right)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("size", SIZES)
def test_wires_join_their_boxes_and_cross_none(scenario: str, size: tuple[int, int]) -> None:
    layout = compute_layout(load_scenario(scenario).topology, *size)
    boxes = list(layout.boxes())
    for (kind, source, target), wire in layout.wires.items():
        src, dst = _ends(layout, kind, source, target)
        assert _adjacent(wire.path[0], src), (kind, source, target)
        assert _adjacent(wire.path[-1], dst), (kind, source, target)
        for cell in wire.path:
            assert not any(b.contains(*cell) for b in boxes), (kind, source, target, cell)
        steps = zip(wire.path, wire.path[1:], strict=False)
        assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in steps), "wires are continuous"


def _ends(layout: DiagramLayout, kind: str, source: str, target: str) -> tuple[Box, Box]:
    if kind == "route":
        return layout.exchanges[source], layout.queues[target]
    if kind == "consume":
        return layout.queues[source], layout.consumers[target]
    if kind == "link":
        return layout.exchanges[source], layout.exchanges[target]
    return layout.queues[source], layout.exchanges[target]


def test_every_binding_consumer_and_dead_letter_link_has_a_wire() -> None:
    topology = load_scenario("dead_letter").topology
    layout = compute_layout(topology, 80, 24)
    assert set(layout.wires) == {
        ("route", "orders", "orders_queue"),
        ("route", "orders", "shipping"),
        ("route", "orders.dlx", "orders_dead"),
        ("consume", "orders_queue", "billing"),
        ("consume", "orders_dead", "janitor"),
        ("dead", "orders_queue", "orders.dlx"),
        ("dead", "shipping", "orders.dlx"),
    }


CHAIN = """
[[exchanges]]
name = "a"
type = "topic"

[[exchanges]]
name = "b"
type = "topic"
bindings = [{ exchange = "a", routing_key = "x.#" }, { exchange = "c", routing_key = "back" }]

[[exchanges]]
name = "c"
type = "fanout"
bindings = [{ exchange = "b", routing_key = "ignored" }]

[[exchanges]]
name = "dlx"
type = "fanout"

[[queues]]
name = "qa"
bindings = [{ exchange = "a", routing_key = "#" }]
dead_letter_exchange = "dlx"

[[queues]]
name = "qc"
bindings = [{ exchange = "c" }]

[[queues]]
name = "dead"
bindings = [{ exchange = "dlx" }]
"""


@pytest.mark.parametrize("size", SIZES)
def test_exchange_to_exchange_bindings_are_wires_left_of_the_exchanges(size: tuple[int, int]) -> None:
    """One wire per linked pair (b takes from a and from c, c from b: a loop), each on a trunk of its
    own in a margin left of the exchange column, from the source's left side into the destination's,
    through no box and sharing no cell with the route and dead-letter wires."""
    from core.scenario import parse_scenario

    layout = compute_layout(parse_scenario(CHAIN, "chain.toml").topology, *size)
    links = {key: wire for key, wire in layout.wires.items() if key[0] == "link"}
    assert set(links) == {("link", "a", "b"), ("link", "c", "b"), ("link", "b", "c")}
    ex_x = layout.columns[0]
    assert ex_x == 2 * len(links) + 1 and all(b.x == ex_x for b in layout.exchanges.values())
    if size[0] >= 80:
        assert layout.width == size[0]
    boxes = list(layout.boxes())
    for i, a in enumerate(boxes):
        assert a.x >= 0 and a.right <= layout.width
        assert not any(overlaps(a, b) for b in boxes[i + 1 :]), a
    others = {cell for key, wire in layout.wires.items() if key[0] != "link" for cell in wire.path}
    for (_, source, target), wire in links.items():
        assert wire.path[0] == (layout.exchanges[source].x - 1, layout.exchanges[source].mid_y)
        assert wire.path[-1] == (layout.exchanges[target].x - 1, layout.exchanges[target].y + 2)
        assert all(x < ex_x for x, _ in wire.path) and not others & set(wire.path)
    seed = compute_layout(load_scenario("seed").topology, *size)
    assert seed.columns[0] == 0, "no margin without exchange-to-exchange bindings"


def test_twelve_queues_fit_down_to_13_rows_with_one_line_queues_then_scroll() -> None:
    topology = load_scenario("twelve").topology
    roomy = compute_layout(topology, 200, 50)
    assert roomy.height <= 50 and all(q.h == 3 for q in roomy.queues.values())
    for rows in (30, 24, 13):
        layout = compute_layout(topology, 80, rows)
        assert layout.height <= rows and all(q.compact for q in layout.queues.values()), rows
    short = compute_layout(topology, 80, 9)
    assert short.height == 13 and short.pitch == 1, "when it must scroll, it scrolls as little as it can"
    assert compute_layout(many_queues(40), 200, 30).height > 30


def test_one_line_queues_keep_a_row_for_dead_letter_wires() -> None:
    layout = compute_layout(load_scenario("dead_letter").topology, 80, 5)
    assert all(q.compact for q in layout.queues.values()), "5 rows: the queues must be one line each"
    assert layout.pitch >= 2, "the dead-letter wire needs a free row between one-line queues"


def test_narrow_screens_keep_a_readable_width_and_scroll_sideways() -> None:
    layout = compute_layout(load_scenario("seed").topology, 30, 24)
    assert MIN_WIDTH <= layout.width <= 80


def test_box_names_stay_whole_when_the_inspector_narrows_the_canvas() -> None:
    """At 120 columns the inspector leaves the canvas ~73 cells: `media_exchange` was cut to
    `media_exchan…`. Names, binding labels (up to LABEL_WHOLE cells) and the legend's words are whole
    at every width; below that the diagram scrolls sideways instead."""
    for scenario in ("seed", "dead_letter", "headers", "twelve"):
        topology = load_scenario(scenario).topology
        names = [n.name for n in (*topology.exchanges, *topology.queues, *topology.consumers)]
        for width, height in itertools.product((30, 50, 73, 80, 120), (40, 16)):
            layout = compute_layout(topology, width, height)
            labels = [" | ".join(part[0] for part in label.parts) for label in layout.labels]
            lines = painted(topology, width, height)
            text = "\n".join(lines)
            for name in names + [label for label in labels if len(label) <= LABEL_WHOLE]:
                assert name in text, (scenario, width, name)
            assert layout.legend_y is not None and "…" not in lines[layout.legend_y], (scenario, width)


def painted(
    topology: Topology, width: int = 80, height: int = 24, key: str | None = None, exchange: str = ""
) -> list[str]:
    layout = compute_layout(topology, width, height)
    exchange = exchange or topology.exchanges[0].name
    lens = None if key is None else lens_for(topology, exchange, key, None)
    grid = paint(layout, Ledger(topology), lens)
    return [grid.line(y) for y in range(grid.height)]


def test_painting_shows_names_patterns_and_counts() -> None:
    text = "\n".join(painted(load_scenario("seed").topology, 120, 30))
    for word in ("media_exchange", "video_queue", "audit_queue", "video.#", "worker", "pf 1", "0 ready"):
        assert word in text


def test_hostile_and_wide_names_are_painted_literally_and_keep_rows_aligned() -> None:
    hostile = ("[@click=app.quit]", "a.[/]", "[red]x", "队列名字", "tab\there")
    topology = Topology(
        (ExchangeSpec("a.[/]", "topic"),),
        tuple(QueueSpec(n, (BindingSpec("a.[/]", "[red]x"),)) for n in hostile),
        (ConsumerSpec("[b]c", hostile),),
    ).validate()
    rows = painted(topology, 160, 40)
    text = "\n".join(rows)
    for name in ("[@click=app.quit]", "a.[/]", "[red]x", "队列名字", "tab\\x09here", "[b]c"):
        assert name in text
    assert {cell_len(row) for row in rows} == {160}


def test_lens_marks_matching_bindings_and_queues() -> None:
    topology = load_scenario("seed").topology
    layout = compute_layout(topology, 100, 30)
    lens = lens_for(topology, "media_exchange", "user.login", None)
    assert lens.queues == {"audit_queue"}
    grid = paint(layout, Ledger(topology), lens)
    video, audit = (
        layout.wires[("route", "media_exchange", "video_queue")],
        layout.wires[("route", "media_exchange", "audit_queue")],
    )
    x, y = audit.path[-2]
    assert grid.roles[y][x] == "wire_match"
    x, y = video.path[-2]
    assert grid.roles[y][x] == "wire_dim"
    vq, aq = layout.queues["video_queue"], layout.queues["audit_queue"]
    assert grid.roles[aq.y][aq.x] == "match" and grid.roles[vq.y][vq.x] == "dim"
    nothing = lens_for(topology, "media_exchange", "", None)
    assert nothing.queues == {"audit_queue"}  # '#' matches the empty key (zero words)


def test_lens_lights_the_exchange_to_exchange_wires_its_key_takes() -> None:
    """`x.y` on a goes on to b (x.#), not from b to c (ignored): the a -> b link is lit where it
    arrives, the b -> c one dimmed."""
    from core.scenario import parse_scenario

    topology = parse_scenario(CHAIN, "chain.toml").topology
    layout = compute_layout(topology, 120, 40)
    lens = lens_for(topology, "a", "x.y", None)
    assert lens.exchanges == {"a", "b"}
    grid = paint(layout, Ledger(topology), lens)
    x, y = layout.wires[("link", "a", "b")].path[-1]
    assert (grid.chars[y][x], grid.roles[y][x]) == ("▶", "wire_match")
    x, y = layout.wires[("link", "b", "c")].path[-1]
    assert (grid.chars[y][x], grid.roles[y][x]) == ("▶", "wire_dim")


def test_lens_names_the_exchange_a_key_is_unroutable_on() -> None:
    topology = load_scenario("dead_letter").topology
    lens = lens_for(topology, "orders", "order.cancelled", None)
    assert lens.exchanges == {"orders"}  # the dead-letter exchange is not on the way
    assert lens.unroutable == {"orders"}
    assert "✗ no match" in "\n".join(painted(topology, 100, 30, "order.cancelled"))


def test_lens_uses_an_alternate_exchange_only_when_nothing_else_matched() -> None:
    topology = Topology(
        (ExchangeSpec("ex", "direct", alternate_exchange="alt"), ExchangeSpec("alt", "fanout")),
        (QueueSpec("orders", (BindingSpec("ex", "order"),)), QueueSpec("lost", (BindingSpec("alt", ""),))),
    ).validate()
    matched = lens_for(topology, "ex", "order", None)
    assert matched.queues == {"orders"} and matched.bindings == {("ex", "orders", 0)}
    assert matched.exchanges == {"ex"} and matched.unroutable == set()
    missed = lens_for(topology, "ex", "other", None)
    assert missed.queues == {"lost"} and missed.bindings == {("alt", "lost", 0)}
    assert missed.exchanges == {"ex", "alt"} and missed.unroutable == {"ex"}


def test_the_lens_paints_only_the_exchange_it_is_on() -> None:
    """Lens on `logs` with `kern.disk`: the fanout beside it is not marked as routing it."""
    topology = Topology(
        (ExchangeSpec("alerts", "fanout"), ExchangeSpec("logs", "topic")),
        (
            QueueSpec("kern_any", (BindingSpec("logs", "kern.*"),)),
            QueueSpec("pager", (BindingSpec("alerts", ""),)),
        ),
    ).validate()
    text = "\n".join(painted(topology, 100, 30, "kern.disk", exchange="logs"))
    assert text.count("✓ routes") == 1 and "✗ no match" not in text
    layout = compute_layout(topology, 100, 30)
    grid = paint(layout, Ledger(topology), lens_for(topology, "logs", "kern.disk", None))
    pager, kern = layout.queues["pager"], layout.queues["kern_any"]
    assert grid.roles[kern.y][kern.x] == "match" and grid.roles[pager.y][pager.x] == "dim"


def lines(grid: Grid) -> list[str]:
    return [grid.line(y) for y in range(grid.height)]


DEPTH = re.compile(r"\d+( ready | rdy |r )\d+( unacked| unack|u)")


@pytest.mark.parametrize(
    ("scenario", "size"), [("seed", (80, 16)), ("dead_letter", (73, 30)), ("twelve", (100, 16))]
)
def test_every_queue_on_a_screen_reads_its_depth_one_way(scenario: str, size: tuple[int, int]) -> None:
    """One deep queue (3-digit counts) makes every queue shorten its words, not only itself."""
    topology = load_scenario(scenario).topology
    model = Ledger(topology)
    model.feed(QueueDepth(queue=topology.queues[0].name, ready=0, unacked=0))
    layout = compute_layout(topology, *size)
    calm = {m.groups() for line in lines(paint(layout, model, None)) for m in DEPTH.finditer(line)}
    model.feed(QueueDepth(queue=topology.queues[-1].name, ready=123, unacked=45))
    deep = paint(layout, model, None)
    found = [m.groups() for line in lines(deep) for m in DEPTH.finditer(line)]
    assert len(found) == len(topology.queues), "every queue shows its depth whole"
    assert len(set(found)) == 1 and len(calm) == 1, (calm, set(found))
