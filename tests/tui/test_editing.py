"""Editing the running topology from the app: selection, forms, deletes, undo and redo, on mqscope://
while messages flow. Every edit is checked with what the engine, the canvas and the lens then show."""

from __future__ import annotations

from states import make_app, type_text, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tui.app import MqscopeApp
from tui.editing.form import EditForm
from tui.editing.selection import SELECTED_ROLE, Selection
from tui.widgets.diagram_paint import paint


async def ready(pilot: Pilot[int], app: MqscopeApp) -> None:
    await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")


async def on_diagram(pilot: Pilot[int], app: MqscopeApp) -> None:
    app.session_screen.canvas.focus()
    await pilot.pause()


def selected_cells(app: MqscopeApp) -> list[tuple[int, int]]:
    canvas = app.session_screen.canvas
    canvas._static_rows()
    grid = canvas._grid
    assert grid is not None
    return [(x, y) for y in range(grid.height) for x in range(grid.width) if grid.roles[y][x] == SELECTED_ROLE]


async def routed(pilot: Pilot[int], app: MqscopeApp, msg: str) -> set[str]:
    """The queues the broker routed `msg` to (as the ledger recorded it)."""
    await wait_for(
        pilot, lambda: msg in app.ledger.records and app.ledger.records[msg].queues is not None, f"{msg} routed"
    )
    return set(app.ledger.records[msg].queues or ())


async def form_open(pilot: Pilot[int], app: MqscopeApp) -> EditForm:
    await wait_for(pilot, lambda: isinstance(app.screen, EditForm) and app.screen._armed, "the form")
    assert isinstance(app.screen, EditForm)
    return app.screen


async def fill(pilot: Pilot[int], form: EditForm, field: str, text: str) -> None:
    widget = form.query_one(f"#{field}", Input)
    widget.focus()
    widget.value = ""
    await type_text(pilot, text)


async def test_the_selection_moves_with_the_arrows_and_a_click_and_is_drawn() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        canvas = app.session_screen.canvas
        assert "Add" not in _key_bar(app)  # the editing keys show only while the diagram has focus
        await on_diagram(pilot, app)
        assert "Add" in _key_bar(app) and "Undo" in _key_bar(app)
        assert canvas.selection is None and selected_cells(app) == []

        await pilot.press("down")
        assert canvas.selection == Selection("exchange", "media_exchange")
        box = canvas.layout_geometry.exchanges["media_exchange"]
        assert (box.x, box.y) in selected_cells(app)
        await pilot.press("right")
        assert canvas.selection is not None and canvas.selection.kind == "binding"
        await pilot.press("right")
        assert canvas.selection is not None and canvas.selection.kind == "queue"
        await pilot.press("down")
        assert canvas.selection == Selection("queue", "audit_queue")
        await pilot.press("right")
        assert canvas.selection == Selection("consumer", "worker")

        video = canvas.layout_geometry.queues["video_queue"]
        await pilot.click(canvas, offset=(video.x + 2, video.y + 1))
        assert canvas.selection == Selection("queue", "video_queue")
        await pilot.pause()
        video = canvas.layout_geometry.queues["video_queue"]  # the inspector opened beside: laid out anew
        assert (video.x, video.y) in selected_cells(app)
        await pilot.press("down")  # the open inspector follows the selection
        assert app.session_screen.inspector.target == ("queue", "audit_queue")


def _key_bar(app: MqscopeApp) -> str:
    bar = app.screen.query_one("#keys")
    return str(bar.render())


async def test_add_a_bound_queue_while_messages_flow_then_undo_and_redo() -> None:
    app = make_app("seed")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.action_burst(10)  # messages flow while the edit is made
        await on_diagram(pilot, app)
        await pilot.press("down", "a")  # the exchange is selected: add, pick "queue"
        await wait_for(pilot, lambda: app.screen.query("#kinds"), "the chooser")
        await pilot.press("down", "enter")
        form = await form_open(pilot, app)
        await fill(pilot, form, "name", "reports")
        await fill(pilot, form, "routing_key", "report.*")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditForm), "the form to close")
        canvas = app.session_screen.canvas
        await wait_for(pilot, lambda: "reports" in canvas.layout_geometry.queues, "the new queue's box")
        msg = app.engine.publish("media_exchange", "report.daily")
        assert await routed(pilot, app, msg) == {"reports", "audit_queue"}

        await pilot.press("u")
        await wait_for(pilot, lambda: "reports" not in canvas.layout_geometry.queues, "undo to delete it")
        assert app.engine.topology.queue("reports") is None
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: "reports" in canvas.layout_geometry.queues, "redo to declare it again")
        assert [b.routing_key for b in app.engine.topology.queue("reports").bindings] == ["report.*"]  # type: ignore[union-attr]


async def test_bad_input_is_refused_in_place_with_the_scenario_files_reason() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.session_screen.editor.add("queue")
        form = await form_open(pilot, app)
        await fill(pilot, form, "name", "q")
        await fill(pilot, form, "max_length", "-1")
        problem = form.query_one("#problem", Static)
        assert form.problem == "max_length must be between 0 and 9223372036854775807, not -1"
        assert str(problem.render()) == form.problem
        await pilot.press("enter")  # refused: the form stays, nothing is declared
        assert app.screen is form and app.engine.topology.queue("q") is None
        await fill(pilot, form, "max_length", "")
        await fill(pilot, form, "name", "amq.q")
        assert form.problem == "queue 'amq.q': names '' and 'amq.*' are reserved by the broker"
        await fill(pilot, form, "name", "q")
        assert form.problem is None
        await pilot.press("escape")
        assert not isinstance(app.screen, EditForm) and app.engine.topology.queue("q") is None
