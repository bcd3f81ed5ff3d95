"""The screen never clips its own words: at 80x24, 100x30 and 120x40 the footer shows whole bindings
(the rest are in the palette), the status line's wording fits its width, and the canvas's names are
whole. Read from what the widgets draw (their rendered lines), not from what they were given."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest
from states import make_app, settle, wait_for
from textual.binding import Binding
from textual.geometry import Region
from textual.widget import Widget

from tui.app import MqscopeApp
from tui.controls import BINDINGS
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.key_bar import KeyBar
from tui.widgets.status_line import StatusLine, status_text

SIZES = [(80, 24), (100, 30), (120, 40)]


def drawn(widget: Widget) -> list[str]:
    """Each row the widget draws, as plain text."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return ["".join(segment.text for segment in strip) for strip in widget.render_lines(region)]


def check_key_bar(app: MqscopeApp) -> list[str]:
    """Whole `key description` pairs only, the palette's key at the right; returns the keys shown."""
    bar = app.screen.query_one(KeyBar)
    (line,) = drawn(bar)
    assert len(line) == bar.size.width
    items, palette = bar.items()
    assert palette is not None and line.rstrip().endswith(f"│ {palette.display} {palette.description}")
    shown = [item for item in items if f" {item.display} {item.description} " in line + " "]
    assert shown, "some bindings are always shown"
    rest = line
    for item in [*shown, palette]:
        rest = rest.replace(f"{item.display} {item.description}", "", 1)
    assert set(rest) <= {" ", "│"}, f"a cut label in the footer: {line!r} leaves {rest.strip()!r}"
    return [item.key for item in shown]


def check_status_line(app: MqscopeApp) -> str:
    status = app.screen.query_one(StatusLine)
    assert status.facts is not None
    (line,) = drawn(status)
    width = status.content_region.width
    chosen = status_text(status.facts, width)
    assert chosen.cell_len <= width, f"the status line is cut: {chosen.plain!r} in {width} cells"
    assert line.rstrip() == chosen.plain.rstrip()
    return line


def check_canvas_names(app: MqscopeApp) -> None:
    canvas = app.screen.query_one(DiagramCanvas)
    assert canvas.virtual_size.width <= canvas.scrollable_content_region.width, "no sideways scroll"
    text = "\n".join(drawn(canvas))
    topology = app.engine.topology
    for node in (*topology.exchanges, *topology.queues, *topology.consumers):
        assert node.name in text, node.name
    assert "…" not in text


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_nothing_on_screen_is_cut(size: tuple[int, int]) -> None:
    asyncio.run(_nothing_cut(size))


async def _nothing_cut(size: tuple[int, int]) -> None:
    app = make_app("seed")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        keys = check_key_bar(app)
        assert {"f1", "f2", "f3", "f4", "f5", "f6"} <= set(keys)
        line = check_status_line(app)
        for word in ("seed", "RabbitMQ-faithful", "connected", "2 sent, 0 in flight", "F2-F4: worker"):
            assert word in line
        check_canvas_names(app)
        await pilot.press("f1", "f5")  # the inspector narrows the canvas; frozen widens the status
        await wait_for(pilot, lambda: app.engine.gate.paused, "the freeze")
        await pilot.pause()
        check_key_bar(app)
        assert "FROZEN" in check_status_line(app)
        main = app.screen.query_one("#main")
        if size[0] >= 120:
            check_canvas_names(app)
        else:  # a slim screen gives the inspector the diagram's place, not a squeezed slice of it
            assert not main.display
        await pilot.press("escape")
        await pilot.pause()
        assert main.display and app.focused is not None and app.focused.id == "routing-key"
        check_canvas_names(app)


def test_the_footer_says_more_as_the_screen_widens() -> None:
    asyncio.run(_widening())


async def _widening() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(80, 24)) as pilot:
        shown = []
        for width in (80, 100, 120, 160):
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            shown.append(check_key_bar(app))
        assert shown[0] == ["f1", "f2", "f3", "f4", "f5", "f6"]
        assert all(set(a) < set(b) for a, b in pairwise(shown)), shown
        assert len(shown[-1]) == len([b for b in app.BINDINGS if getattr(b, "show", True)])


def test_clicking_a_footer_key_presses_it() -> None:
    asyncio.run(_footer_click())


async def _footer_click() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = app.screen.query_one(KeyBar)
        start, _end, _key = next(span for span in bar.spans if span[2] == "f5")
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await wait_for(pilot, lambda: app.engine.gate.paused, "F5 to freeze the broker")
        palette = bar.spans[-1]
        assert palette[2] == "ctrl+p"
        await pilot.click(KeyBar, offset=(palette[0] + 1, 0))
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "the palette")


def test_every_binding_is_also_a_palette_command() -> None:
    """The footer shows what fits; the palette holds every control, whatever the width."""
    asyncio.run(_palette_has_all())


async def _palette_has_all() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        commands = list(app.get_system_commands(app.screen))
        runs = {getattr(c.callback, "func", c.callback).__name__ for c in commands}
        same = {"slower": "set_speed", "faster": "set_speed"}  # the palette offers every speed
        for binding in BINDINGS:
            assert isinstance(binding, Binding)
            action = binding.action.partition("(")[0]
            assert f"action_{same.get(action, action)}" in runs, binding.key
