"""A moving token is a small, moving target: a click on a neighbouring cell, or where the token was a
moment ago, still selects its message (at 0.25x most clicks used to miss). The clock is pinned."""

from __future__ import annotations

import asyncio

from diagram_host import DiagramHost, published

from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.diagram_layout import DiagramLayout


def empty_neighbour(layout: DiagramLayout, x: int, y: int, path: set[tuple[int, int]]) -> tuple[int, int]:
    """A diagonal neighbour of (x, y) off the wire and outside every box (so only the token is hit)."""
    for dx, dy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
        cell = (x + dx, y + dy)
        if cell not in path and layout.box_at(*cell) is None:
            return cell
    raise AssertionError(f"no free diagonal neighbour of {(x, y)}")


def test_clicking_next_to_a_slow_moving_token_selects_its_message() -> None:
    asyncio.run(_neighbour_click())


async def _neighbour_click() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        canvas.set_speed(0.25)
        canvas.apply(published("m1", "video.upload", ("video_queue",)))
        (leg,) = canvas.board.legs
        app.clock.advance(leg.duration / 2)  # mid-wire, and the clock stays there
        wire = canvas.layout_geometry.wires[leg.wire]
        (token,) = canvas.board.sprites(app.clock())
        far = next(c for c in wire.path if max(abs(c[0] - token.x), abs(c[1] - token.y)) > 4)
        await pilot.click(DiagramCanvas, offset=far)
        assert app.selected == [], "a click far from every token selects nothing"
        beside = empty_neighbour(canvas.layout_geometry, token.x, token.y, set(wire.path))
        await pilot.click(DiagramCanvas, offset=beside)
        assert app.selected == [("token", "m1")]
        app.clock.advance(0.25)  # the token moved on; the click aimed where the eye last saw it
        (moved,) = canvas.board.sprites(app.clock())
        assert max(abs(moved.x - token.x), abs(moved.y - token.y)) > 1
        await pilot.click(DiagramCanvas, offset=(token.x, token.y))
        assert app.selected == [("token", "m1"), ("token", "m1")]
