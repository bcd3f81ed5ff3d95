"""The routing lens on a crowded topology (44 queues at 120x40): the bindings that match are listed
first and the rest fold into one line, so the matches and the route stay on screen; the diagram
scrolls the first matching queue into view."""

from __future__ import annotations

from states import make_app, type_text, wait_for
from textual.containers import VerticalScroll
from textual.widgets import Static

from core.scenario import Scenario
from tui.app import MqscopeApp
from tui.widgets.diagram_canvas import DiagramCanvas
from wide_topology import wide_topology

QUEUES = 44


def crowded_app() -> MqscopeApp:
    """44 queues on one topic exchange (q000 <- ex00.0.#, ...), every fifth dead-lettering."""
    topology = wide_topology(queues=QUEUES, exchanges=1, consumers=4)
    return make_app(Scenario("crowded", "44 queues", topology, ()), play_script=False)


def lens_lines(app: MqscopeApp) -> list[str]:
    return str(app.screen.query_one("#matches", Static).render()).splitlines()


def queue_on_screen(canvas: DiagramCanvas, name: str) -> bool:
    box = canvas.layout_geometry.queues[name]
    top, rows = canvas.scroll_offset.y, canvas.scrollable_content_region.height
    return top <= box.y and box.bottom <= top + rows


async def test_a_match_far_down_the_list_is_shown_first_and_the_rest_fold() -> None:
    app = crowded_app()
    async with app.run_test(size=(120, 40)) as pilot:
        canvas = app.screen.query_one(DiagramCanvas)
        assert not queue_on_screen(canvas, "q041")  # far below: the diagram has to scroll to it
        app.screen.query_one("#routing-key").focus()
        await type_text(pilot, "ex00.41.upload")
        await wait_for(pilot, lambda: any("-> q041" in line for line in lens_lines(app)), "the route")
        lines = lens_lines(app)
        assert lines[0].startswith("✓ q041")
        # 44 queue bindings: one matches, the rest that did not fit are counted on one line.
        fold = next(line for line in lines if line.startswith("✗ +"))
        shown = sum(line.startswith("✗ q") for line in lines)
        assert fold == f"✗ +{QUEUES - 1 - shown} queues do not match"
        scroll = app.screen.query_one("#matches-scroll", VerticalScroll)
        assert scroll.max_scroll_y == 0  # everything fits the lens window: nothing scrolled away
        await wait_for(pilot, lambda: queue_on_screen(canvas, "q041"), "q041 scrolled into view")
        await pilot.pause()
        assert queue_on_screen(canvas, "q041")  # still, once the lens panel and canvas settled


async def test_every_match_is_listed_before_any_miss() -> None:
    app = crowded_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.query_one("#routing-key").focus()
        await type_text(pilot, "ex00.4.x")  # only q004 (ex00.4.#) takes it
        await wait_for(pilot, lambda: any("-> q004" in line for line in lens_lines(app)), "the route")
        assert lens_lines(app)[0].startswith("✓ q004")
        await pilot.press("backspace", "backspace", "backspace")
        await type_text(pilot, "99.x")  # ex00.99.x: no queue is bound for 99
        await wait_for(pilot, lambda: any("unroutable" in line for line in lens_lines(app)), "no route")
        lines = lens_lines(app)
        assert not any(line.startswith("✓") for line in lines)
        assert any(line.startswith("✗ +") and "queues do not match" in line for line in lines)


async def test_a_short_screen_gives_the_verdicts_fewer_rows_and_keeps_the_match() -> None:
    app = crowded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#routing-key").focus()
        await type_text(pilot, "ex00.41.upload")
        await wait_for(pilot, lambda: any("-> q041" in line for line in lens_lines(app)), "the route")
        lines = lens_lines(app)
        assert lines[0].startswith("✓ q041") and len(lines) == 8  # app.tcss: max-height 8 when short
        assert lines[-2].startswith("✗ +") and lines[-1] == "-> q041"
