"""Big topologies in the app (tests/data/big_vhost.toml: 30 exchanges, 200 queues at 120x40): the
filter bar (substring, glob, a bad glob, Enter, Esc), focusing an exchange, folding idle queues and
unfolding one on traffic, and moving the selection with the keys (the view follows it)."""

from __future__ import annotations

from pathlib import Path

from states import make_app, wait_for
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from core.scenario import load_scenario
from tui.app import MqscopeApp
from tui.editing.selection import Selection
from tui.testing import publish, type_text
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.diagram_view import reach

BIG_PATH = str(Path(__file__).parents[1] / "data" / "big_vhost.toml")
BIG = load_scenario(BIG_PATH).topology
SIZE = (120, 40)


def big_app() -> MqscopeApp:
    return make_app(BIG_PATH, play_script=False)


async def ready(pilot: Pilot[int], app: MqscopeApp) -> DiagramCanvas:
    await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
    canvas = app.session_screen.canvas
    canvas.focus()
    await pilot.pause()
    return canvas


def shown_queues(canvas: DiagramCanvas) -> set[str]:
    return set(canvas.layout_geometry.queues)


def note(app: MqscopeApp) -> str:
    return str(app.session_screen.filter_bar.note.render())


async def filter_by(pilot: Pilot[int], text: str) -> None:
    await pilot.press("slash")
    await type_text(pilot, text)
    await pilot.pause()


async def test_the_filter_narrows_the_diagram_as_you_type_and_enter_keeps_it() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        bar = app.session_screen.filter_bar
        assert not bar.display or not bar.has_class("-open")  # hidden while everything shows
        assert len(shown_queues(canvas)) == 200
        await pilot.press("slash")
        assert isinstance(app.focused, Input) and app.focused.id == "filter"
        await type_text(pilot, "orders.cre")
        await pilot.pause()
        created = {f"orders.created.{s}" for s in ("email", "analytics", "warehouse", "crm")}
        assert shown_queues(canvas) == created
        assert set(canvas.layout_geometry.exchanges) == {"orders.events"}
        assert set(canvas.layout_geometry.consumers) == {"order-service"}
        assert note(app) == "filter: orders.cre (4 of 200 queues)"
        await pilot.press("enter")
        assert app.focused is canvas and shown_queues(canvas) == created  # kept
        assert bar.has_class("-open")  # and still said


async def test_ctrl_f_opens_the_filter_from_the_routing_key_where_slash_is_part_of_a_key() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
        key = app.session_screen.query_one("#routing-key", Input)
        assert app.focused is key  # where the app starts
        await type_text(pilot, "a/")
        assert key.value == "a/"
        await pilot.press("ctrl+f")
        assert isinstance(app.focused, Input) and app.focused.id == "filter"
        await type_text(pilot, "audit")
        await pilot.pause()
        assert shown_queues(app.session_screen.canvas) == {"audit.all", "audit.archive"}
        assert key.value == "a/"  # ctrl+f did not edit the key


async def test_a_glob_matches_whole_names_and_a_bad_one_is_one_line_of_error() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await filter_by(pilot, "*.crm")
        crm = {q.name for q in BIG.queues if q.name.endswith(".crm")}
        assert shown_queues(canvas) == crm
        assert note(app) == f"filter: *.crm ({len(crm)} of 200 queues)"
        await type_text(pilot, "[")  # "*.crm[": an unclosed set
        await pilot.pause()
        assert shown_queues(canvas) == crm  # the last good filter stays
        assert note(app) == "unclosed [ at character 6: close it with ]"
        assert app.session_screen.filter_bar.note.has_class("-error")
        await pilot.press("backspace")
        await pilot.pause()
        assert not app.session_screen.filter_bar.note.has_class("-error")
        assert note(app).startswith("filter: *.crm")


async def test_esc_in_the_bar_clears_the_filter_and_hands_the_keys_back_to_the_diagram() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await filter_by(pilot, "audit")
        assert shown_queues(canvas) == {"audit.all", "audit.archive"}
        await pilot.press("escape")
        await pilot.pause()
        assert len(shown_queues(canvas)) == 200
        assert app.focused is canvas
        assert not app.session_screen.filter_bar.has_class("-open")


async def test_esc_on_the_diagram_clears_a_kept_filter_then_closes_the_inspector_as_before() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await filter_by(pilot, "audit")
        await pilot.press("enter")
        app.session_screen.inspect("queue", "audit.all")
        await pilot.press("escape")
        await pilot.pause()
        assert len(shown_queues(canvas)) == 200 and app.session_screen.inspector.display
        assert app.session_screen.filter_bar.input.value == ""
        await pilot.press("escape")
        assert not app.session_screen.inspector.display


async def test_f_focuses_the_selected_exchange_and_what_it_reaches_and_f_again_shows_all() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await pilot.press("down")  # the first exchange
        assert canvas.selection is not None and canvas.selection.kind == "exchange"
        exchange = canvas.selection.name
        await pilot.press("f")
        await pilot.pause()
        reached = reach(BIG, [exchange])
        assert shown_queues(canvas) == set(reached.queues)
        assert set(canvas.layout_geometry.exchanges) == set(reached.exchanges)
        assert canvas.selection is not None and canvas.selection.name == exchange  # still selected
        assert note(app).startswith(f"focus: {exchange} (f or Esc: all)")
        await pilot.press("f")
        await pilot.pause()
        assert len(shown_queues(canvas)) == 200
        await pilot.press("f", "escape")  # Esc unfocuses too
        await pilot.pause()
        assert len(shown_queues(canvas)) == 200 and canvas.scope.focus is None


async def test_f_on_a_queue_focuses_its_exchange_and_with_nothing_selected_says_what_to_do() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await pilot.press("f")
        await pilot.pause()
        assert canvas.scope.focus is None and len(shown_queues(canvas)) == 200
        await filter_by(pilot, "legacy.orders")
        await pilot.press("enter", "down", "right", "right")  # exchange, binding label, queue
        assert canvas.selection is not None and canvas.selection.name == "legacy.orders"
        assert canvas.selection.kind == "queue"
        await pilot.press("f")
        await pilot.pause()
        assert canvas.scope.focus == "legacy.bridge"


async def test_i_folds_idle_queues_and_a_queue_that_gets_traffic_unfolds() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await pilot.press("i")
        await pilot.pause()
        folds = canvas.scope.view(canvas.topology).folds
        orders_fold = next(f for f in folds.values() if f.exchange == "orders.events")
        assert len(orders_fold.queues) == 20 and orders_fold.title == "+20 idle"
        assert shown_queues(canvas) == set(folds) | {
            q.name for q in BIG.queues if not any(q.name in f.queues for f in folds.values())
        }
        assert len(shown_queues(canvas)) < 60
        assert "idle queues folded (i unfolds)" in note(app)
        box = canvas.layout_geometry.queues[orders_fold.key]
        canvas.scroll_to(box.x, box.y, animate=False, immediate=True)
        await pilot.pause()
        where = (box.x - canvas.scroll_offset.x + 1, box.mid_y - canvas.scroll_offset.y)
        await pilot.hover(canvas, offset=where)
        assert str(canvas.tooltip).startswith("20 idle queues bound to orders.events (i unfolds): ")
        canvas.focus()
        await publish(pilot, "orders.created")  # the lens's exchange is orders.events
        created = {f"orders.created.{s}" for s in ("email", "analytics", "warehouse", "crm")}
        await wait_for(pilot, lambda: created <= shown_queues(canvas), "the routed queues unfolding")
        folds = canvas.scope.view(canvas.topology).folds
        assert next(f for f in folds.values() if f.exchange == "orders.events").title == "+16 idle"
        canvas.focus()
        await pilot.press("i")
        await pilot.pause()
        assert len(shown_queues(canvas)) == 200


async def test_the_arrows_move_among_the_shown_boxes_and_the_view_follows_the_selection() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await pilot.press("down", "right", "right")  # an exchange, a binding, a queue
        assert canvas.selection is not None and canvas.selection.kind == "queue"
        for _ in range(30):
            await pilot.press("down")
        await pilot.pause()
        selected = canvas.layout_geometry.queues[canvas.selection.name]
        top = canvas.scroll_offset.y
        assert top > 0
        assert top <= selected.y and selected.bottom <= top + canvas.scrollable_content_region.height
        await filter_by(pilot, "*.commands")
        await pilot.press("enter")
        await pilot.pause()
        commands = {q.name for q in BIG.queues if q.name.endswith(".commands")}
        assert shown_queues(canvas) == commands and len(canvas.layout_geometry.exchanges) == 10
        assert canvas.selection is None  # the queue it was on is filtered out
        assert canvas.scroll_offset.y <= canvas.max_scroll_y  # not left scrolled past the smaller diagram
        visited = []
        for _ in range(4):
            await pilot.press("down")
            assert canvas.selection is not None and canvas.selection.kind == "exchange"
            visited.append(canvas.selection.name)
        assert len(set(visited)) == 4 and set(visited) <= set(canvas.layout_geometry.exchanges)
        await pilot.press("right", "right")
        assert canvas.selection is not None and canvas.selection.kind == "queue"
        for _ in range(12):
            await pilot.press("down")
            assert canvas.selection is not None and canvas.selection.name in commands
        selected = canvas.layout_geometry.queues[canvas.selection.name]
        top = canvas.scroll_offset.y
        assert top <= selected.y and selected.bottom <= top + canvas.scrollable_content_region.height


async def palette(pilot: Pilot[int], app: MqscopeApp, title: str) -> None:
    """Run the palette command titled exactly `title` (the first hit once it is listed)."""
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    await type_text(pilot, title)
    hits = app.screen.query_one(CommandList)
    await wait_for(
        pilot,
        lambda: (
            hits.option_count > 0 and hits.get_option_at_index(0).prompt.plain.partition("\n")[0] == title
        ),  # type: ignore[union-attr]
        f"{title!r} first",
    )
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette to close")


async def test_the_palette_focuses_any_exchange_by_name_and_folds_and_filters() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await palette(pilot, app, "Focus exchange audit")
        assert canvas.scope.focus == "audit" and shown_queues(canvas) == {"audit.all", "audit.archive"}
        await palette(pilot, app, "Unfocus the diagram")
        assert canvas.scope.focus is None and len(shown_queues(canvas)) == 200
        await palette(pilot, app, "Fold idle queues")
        assert canvas.scope.view(canvas.topology).folds
        await palette(pilot, app, "Unfold idle queues")
        assert len(shown_queues(canvas)) == 200
        await palette(pilot, app, "Filter the diagram")
        assert app.focused is app.session_screen.filter_bar.input


async def test_the_count_follows_the_topology_while_a_filter_is_on() -> None:
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        canvas = await ready(pilot, app)
        await filter_by(pilot, "cache")
        await pilot.press("enter")
        assert note(app) == "filter: cache (2 of 200 queues)"
        app.session_screen.editor.delete(Selection("queue", "cache.api"))
        await wait_for(pilot, lambda: shown_queues(canvas) == {"cache.web"}, "the deleted queue's box to go")
        await wait_for(
            pilot, lambda: note(app) == "filter: cache (1 of 199 queues)", "the bar to count again"
        )
