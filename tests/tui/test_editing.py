"""Editing the running topology from the app: selection, forms, deletes, undo and redo, on mqscope://
while messages flow. Every edit is checked with what the engine, the canvas and the lens then show."""

from __future__ import annotations

from dataclasses import replace

from states import make_app, type_text, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, Switch

from core.scenario import load_scenario, parse_scenario
from tui.app import MqscopeApp
from tui.editing.form import EditForm
from tui.editing.selection import SELECTED_ROLE, Selection, spots


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
    return [
        (x, y) for y in range(grid.height) for x in range(grid.width) if grid.roles[y][x] == SELECTED_ROLE
    ]


async def routed(pilot: Pilot[int], app: MqscopeApp, msg: str) -> set[str]:
    """The queues the broker routed `msg` to (as the ledger recorded it)."""
    await wait_for(
        pilot,
        lambda: msg in app.ledger.records and app.ledger.records[msg].queues is not None,
        f"{msg} routed",
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

        label = next(s for s in spots(canvas.layout_geometry) if s.selection.kind == "binding")
        await pilot.click(
            canvas, offset=(label.x + 1 - canvas.scroll_offset.x, label.y - canvas.scroll_offset.y)
        )
        assert canvas.selection == label.selection  # a click on a binding's label selects the binding


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


COMPETING = """
[scenario]
name = "competing"

[[exchanges]]
name = "jobs"
type = "direct"

[[queues]]
name = "tasks"
bindings = [{ exchange = "jobs", routing_key = "task" }]

[[consumers]]
name = "worker"
queues = ["tasks"]
prefetch = 1
work_seconds = 1.0
"""


async def test_a_second_worker_added_to_a_backlog_shares_it_and_prefetch_changes_without_restart() -> None:
    app = make_app(parse_scenario(COMPETING, "competing.toml"), speed=1.0, play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        for n in range(30):
            app.engine.publish("jobs", "task", {"n": n})
        await wait_for(pilot, lambda: app.ledger.queues["tasks"].ready >= 15, "a backlog on one worker")
        engine = app.engine

        await on_diagram(pilot, app)
        canvas = app.session_screen.canvas
        canvas.select(Selection("queue", "tasks"))
        await pilot.press("a")
        await wait_for(pilot, lambda: app.screen.query("#kinds"), "the chooser")
        await pilot.press("down", "down", "enter")  # "queue" (the selection's kind) is highlighted
        form = await form_open(pilot, app)
        assert type(form).__name__ == "ConsumerForm"
        await fill(pilot, form, "name", "worker2")
        await fill(pilot, form, "work_seconds", "0.1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditForm), "the form to close")
        await wait_for(pilot, lambda: app.ledger.consumers.get("worker2") is not None, "worker2 to appear")
        before = app.ledger.consumers["worker"].acked
        await wait_for(
            pilot,
            lambda: (
                app.ledger.consumers["worker2"].acked >= 2 and app.ledger.consumers["worker"].acked > before
            ),
            "both workers to take messages from the backlog",
        )
        assert "worker2" in canvas.layout_geometry.consumers

        canvas.select(Selection("consumer", "worker"))
        await pilot.press("e")
        form = await form_open(pilot, app)
        await fill(pilot, form, "prefetch", "5")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.engine.topology.consumer("worker").prefetch == 5,
            "the new prefetch",  # type: ignore[union-attr]
        )
        acked = app.ledger.consumers["worker"].acked
        for n in range(10):  # the new loop (prefetch 5) takes its share of new work at once
            app.engine.publish("jobs", "task", {"after": n})
        await wait_for(pilot, lambda: app.ledger.consumers["worker"].acked > acked, "worker to go on acking")
        await wait_for(pilot, lambda: app.ledger.quiet(), "the backlog to drain")
        assert app.engine is engine  # the same session all along: nothing restarted


async def test_changing_a_consumed_queues_arguments_redeclares_it_and_its_consumer_while_flowing() -> None:
    app = make_app("seed")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.action_burst(10)
        await on_diagram(pilot, app)
        app.session_screen.canvas.select(Selection("queue", "video_queue"))
        await pilot.press("e")
        form = await form_open(pilot, app)
        await fill(pilot, form, "message_ttl", "30")
        await fill(pilot, form, "max_length", "100")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditForm), "the form to close")
        await wait_for(
            pilot,
            lambda: app.engine.topology.queue("video_queue").message_ttl == 30,  # type: ignore[union-attr]
            "the queue declared again with its TTL",
        )
        video = app.engine.topology.queue("video_queue")
        assert video is not None and video.max_length == 100
        assert [b.routing_key for b in video.bindings] == ["video.#"]
        assert app.engine.topology.consumer("worker") is not None
        msg = app.engine.publish("media_exchange", "video.after")
        assert await routed(pilot, app, msg) == {"video_queue", "audit_queue"}
        await wait_for(pilot, lambda: app.ledger.fate(msg).get("video_queue") == "acked", "worker to ack it")

        await pilot.press("ctrl+z")
        await wait_for(
            pilot,
            lambda: app.engine.topology.queue("video_queue").message_ttl is None,  # type: ignore[union-attr]
            "undo to restore the queue as it was",
        )
        assert app.engine.topology.consumer("worker") is not None


async def test_a_binding_selected_with_the_keys_is_deleted_and_undo_binds_it_again() -> None:
    app = make_app("seed")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.action_burst(10)
        canvas = app.session_screen.canvas
        await on_diagram(pilot, app)
        await pilot.press("down", "right", "down")  # the exchange, its first binding, the next one
        assert canvas.selection == Selection("binding", "audit_queue", "media_exchange", 0)
        await pilot.press("d")
        wire = ("route", "media_exchange", "audit_queue")
        await wait_for(pilot, lambda: wire not in canvas.layout_geometry.wires, "the unbound wire to go")
        assert canvas.selection is None  # what it pointed at is gone
        assert await routed(pilot, app, app.engine.publish("media_exchange", "user.login")) == set()
        await pilot.press("u")
        await wait_for(pilot, lambda: wire in canvas.layout_geometry.wires, "undo to bind it again")
        assert await routed(pilot, app, app.engine.publish("media_exchange", "user.login")) == {"audit_queue"}
        await pilot.press("r")
        await wait_for(pilot, lambda: wire not in canvas.layout_geometry.wires, "redo to unbind it again")


async def test_exchanges_from_the_palette_add_edit_type_and_delete_refused_with_the_reason() -> None:
    app = make_app("dead_letter", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+p")
        await type_text(pilot, "Add exchange")
        await pilot.press("enter")
        form = await form_open(pilot, app)
        await fill(pilot, form, "name", "audit")
        form.query_one("#type").value = "fanout"  # type: ignore[attr-defined]
        await pilot.pause()
        await form.query_one("#name", Input).action_submit()
        await wait_for(pilot, lambda: app.engine.topology.exchange("audit") is not None, "the new exchange")
        assert app.engine.topology.exchange("audit").type == "fanout"  # type: ignore[union-attr]
        canvas = app.session_screen.canvas
        await wait_for(pilot, lambda: "audit" in canvas.layout_geometry.exchanges, "its box")

        dlx = next(q.dead_letter_exchange for q in app.engine.topology.queues if q.dead_letter_exchange)
        assert dlx is not None
        app.session_screen.editor.delete(Selection("exchange", dlx))
        await pilot.pause()
        assert app.engine.topology.exchange(dlx) is not None  # refused: still a dead-letter exchange
        assert any("change that first" in str(n.message) for n in app._notifications)


HOSTILE = """
[[exchanges]]
name = "ex.[b]bold"
type = "topic"

[[queues]]
name = "a.[/]"
bindings = [{ exchange = "ex.[b]bold", routing_key = "[@click=app.quit]x" }]

[[queues]]
name = "\\u001b]0;PWN\\u0007q"
"""


async def test_hostile_names_show_literally_in_forms_and_titles() -> None:
    app = make_app(parse_scenario(HOSTILE, "hostile.toml"), play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        editor = app.session_screen.editor
        editor.edit(Selection("queue", "a.[/]"))
        form = await form_open(pilot, app)
        assert (
            form.query_one("#form").border_title == "Edit queue a.\\[/]"
        )  # Textual's markup view of plain text
        await pilot.press("escape")
        editor.edit(Selection("binding", "a.[/]", "ex.[b]bold", 0))
        form = await form_open(pilot, app)
        assert form.query_one("#routing_key", Input).value == "[@click=app.quit]x"
        await pilot.press("escape")
        editor.edit(Selection("queue", "\x1b]0;PWN\x07q"))
        form = await form_open(pilot, app)
        assert "\x1b" not in str(form.query_one("#form").border_title)
        await pilot.press("escape")
        assert app.is_running


async def test_edit_a_binding_and_a_type_delete_consumer_queue_exchange_then_undo_all_while_flowing() -> None:
    app = make_app("seed")
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.action_burst(10)
        editor, engine = app.session_screen.editor, app.engine

        editor.edit(Selection("binding", "video_queue", "media_exchange", 0))
        form = await form_open(pilot, app)
        await fill(pilot, form, "routing_key", "video.*.hd")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: [b.routing_key for b in engine.topology.queue("video_queue").bindings] == ["video.*.hd"],  # type: ignore[union-attr]
            "the binding's new key",
        )
        assert await routed(pilot, app, engine.publish("media_exchange", "video.cat.hd")) == {
            "video_queue",
            "audit_queue",
        }
        assert await routed(pilot, app, engine.publish("media_exchange", "video.cat")) == {"audit_queue"}

        editor.edit(Selection("exchange", "media_exchange"))
        form = await form_open(pilot, app)
        form.query_one("#type").value = "fanout"  # type: ignore[attr-defined]
        await pilot.pause()
        assert form.problem is None
        form.action_save()
        await wait_for(pilot, lambda: engine.topology.exchange("media_exchange").type == "fanout", "fanout")  # type: ignore[union-attr]
        assert len(engine.topology.queue("audit_queue").bindings) == 1  # type: ignore[union-attr]
        assert await routed(pilot, app, engine.publish("media_exchange", "anything")) == {
            "video_queue",
            "audit_queue",
        }

        editor.delete(Selection("queue", "video_queue"))  # refused: worker consumes it
        await pilot.pause()
        assert engine.topology.queue("video_queue") is not None
        editor.delete(Selection("consumer", "worker"))
        await wait_for(pilot, lambda: engine.topology.consumer("worker") is None, "the worker to go")
        editor.delete(Selection("queue", "video_queue"))
        await wait_for(pilot, lambda: engine.topology.queue("video_queue") is None, "the queue to go")
        editor.delete(Selection("exchange", "media_exchange"))
        await wait_for(
            pilot, lambda: engine.topology.exchange("media_exchange") is None, "the exchange to go"
        )
        await wait_for(
            pilot,
            lambda: "media_exchange" not in app.session_screen.canvas.layout_geometry.exchanges,
            "its box",
        )

        for _ in range(5):  # undo every edit, newest first: the seed as it was
            editor.undo()
            await pilot.pause()
        await wait_for(pilot, lambda: app.ledger.topology.consumer("worker") is not None, "undo to finish")
        seed = load_scenario("seed").topology
        assert engine.topology.exchange("media_exchange") == seed.exchange("media_exchange")
        assert engine.topology.consumer("worker") == seed.consumer("worker")
        assert {
            q.name: {(b.exchange, b.routing_key) for b in q.bindings} for q in engine.topology.queues
        } == {q.name: {(b.exchange, b.routing_key) for b in q.bindings} for q in seed.queues}
        msg = engine.publish("media_exchange", "video.upload")
        await wait_for(
            pilot,
            lambda: app.ledger.fate(msg) == {"video_queue": "acked", "audit_queue": "acked"},
            "the restored worker",
        )


async def test_an_exchange_to_exchange_binding_is_offered_and_judged_by_core() -> None:
    app = make_app("dead_letter", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.session_screen.editor.add("binding", Selection("exchange", "orders"))
        form = await form_open(pilot, app)
        form.query_one("#queue").value = ("exchange", "orders.dlx")  # type: ignore[attr-defined]
        await pilot.pause()
        # What core says about it today is what the form says, in place (no second set of rules).
        from core.routing import Binding
        from core.topology_changes import change_problem, declare

        expected = change_problem(
            app.engine.topology, declare(Binding("orders", "orders.dlx", "exchange", ""))
        )
        assert form.problem == expected


async def test_a_preview_that_arrives_after_its_exchange_was_deleted_lights_nothing() -> None:
    """The lens posts a preview for a fanout exchange; an edit deletes that exchange before the app
    handles it (the undo of a type change does): the canvas drops the preview instead of crashing."""
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        canvas = app.session_screen.canvas
        canvas.preview_route("media_exchange", "video.x")
        assert canvas.lens is not None
        canvas.show_topology(replace(app.engine.topology, exchanges=()))
        canvas.preview_route("media_exchange", "")
        assert canvas.lens is None


async def test_an_exchange_added_to_a_one_exchange_scenario_can_be_picked_in_the_lens() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        lens = app.session_screen.lens
        assert not lens.query("#exchange")  # one exchange: nothing to pick
        app.session_screen.editor.add("exchange")
        form = await form_open(pilot, app)
        await fill(pilot, form, "name", "audit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(lens.query("#exchange")), "the lens to offer a choice of exchange")
        picker = lens.query_one("#exchange", Select)
        assert picker.value == "media_exchange"
        picker.value = "audit"
        await pilot.pause()
        assert lens.exchange == "audit"


async def test_a_queue_gets_rabbitmq_arguments_in_its_form_checked_by_the_scenario_reader() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.session_screen.editor.add("queue", Selection("exchange", "media_exchange"))
        form = await form_open(pilot, app)
        await fill(pilot, form, "name", "urgent")
        await fill(pilot, form, "routing_key", "video.#")
        await fill(pilot, form, "arguments", '{ "x-overflow" = "nope" }')
        assert form.problem is not None and "x-overflow" in form.problem and "\n" not in form.problem
        assert str(form.query_one("#problem", Static).render()) == form.problem
        await fill(pilot, form, "arguments", '{ "x-max-priority" = 10')
        assert form.problem is not None and form.problem.startswith("arguments must be a TOML inline table")
        await fill(pilot, form, "message_ttl", "5")
        await fill(pilot, form, "arguments", '{ "x-message-ttl" = 5000 }')
        assert form.problem == "message_ttl and arguments 'x-message-ttl' are the same argument: give one"
        await fill(pilot, form, "message_ttl", "")
        await fill(pilot, form, "arguments", '{ "x-max-priority" = 10, "x-overflow" = "reject-publish" }')
        assert form.problem is None
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.engine.topology.queue("urgent") is not None, "the queue declared")
        urgent = app.engine.topology.queue("urgent")
        assert urgent is not None
        assert dict(urgent.arguments) == {"x-max-priority": 10, "x-overflow": "reject-publish"}
        msg = app.engine.publish("media_exchange", "video.new")
        assert "urgent" in await routed(pilot, app, msg)

        # editing it shows its arguments as the same inline table
        await on_diagram(pilot, app)
        app.session_screen.canvas.select(Selection("queue", "urgent"))
        await pilot.press("e")
        form = await form_open(pilot, app)
        shown = form.query_one("#arguments", Input).value
        assert '"x-max-priority" = 10' in shown and '"x-overflow" = "reject-publish"' in shown


async def test_an_exchange_to_exchange_binding_is_made_on_the_broker_and_routes() -> None:
    app = make_app("dead_letter", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.session_screen.editor.add("binding", Selection("exchange", "orders"))
        form = await form_open(pilot, app)
        form.query_one("#queue").value = ("exchange", "orders.dlx")  # type: ignore[attr-defined]
        await fill(pilot, form, "routing_key", "order.created")
        assert form.problem is None
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: bool(app.engine.topology.exchange("orders.dlx").bindings),  # type: ignore[union-attr]
            "the exchange binding",
        )
        await wait_for(pilot, lambda: not isinstance(app.screen, EditForm), "the form to close")
        await on_diagram(pilot, app)
        msg = app.engine.publish("orders", "order.created")
        # orders -> orders_queue, and orders -> orders.dlx (fanout) -> orders_dead
        assert await routed(pilot, app, msg) == {"orders_queue", "orders_dead"}
        # redeclaring the source exchange (durable off) makes its exchange binding again
        app.session_screen.editor.edit(Selection("exchange", "orders"))
        form = await form_open(pilot, app)
        form.query_one("#durable", Switch).value = False
        await pilot.pause()
        assert form.problem is None
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: app.engine.topology.exchange("orders").durable is False,  # type: ignore[union-attr]
            "the exchange declared again",
        )
        assert app.engine.topology.exchange("orders.dlx").bindings  # type: ignore[union-attr]
        await pilot.press("ctrl+z")
        await wait_for(
            pilot,
            lambda: app.engine.topology.exchange("orders").durable is True,  # type: ignore[union-attr]
            "undo of the redeclaration",
        )
        assert app.engine.topology.exchange("orders.dlx").bindings  # type: ignore[union-attr]
        await pilot.press("ctrl+z")
        await wait_for(
            pilot,
            lambda: not app.engine.topology.exchange("orders.dlx").bindings,  # type: ignore[union-attr]
            "undo to unbind it",
        )
        msg = app.engine.publish("orders", "order.created")
        assert await routed(pilot, app, msg) == {"orders_queue"}


async def test_a_consumers_x_priority_is_a_form_field_judged_saved_exported_and_undone() -> None:
    """The broker serves the higher x-priority first: the worker added with 10 gets every message
    while it is idle (equal priorities would take turns with `worker`)."""
    from core.exporters import export
    from tui.file_commands import live_scenario

    app = make_app(parse_scenario(COMPETING, "competing.toml"), speed=4.0, play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        engine, editor = app.engine, app.session_screen.editor
        editor.add("consumer", Selection("queue", "tasks"))
        form = await form_open(pilot, app)
        await fill(pilot, form, "name", "vip")
        await fill(pilot, form, "work_seconds", "0")
        await fill(pilot, form, "x-priority", "2147483648")
        assert form.problem == "consumer 'vip': x-priority must be an integer (a signed 32-bit one)"
        assert form.query_one("#x-priority", Input).has_class("-invalid")
        await pilot.press("enter")  # refused in place
        assert app.screen is form and engine.topology.consumer("vip") is None
        await fill(pilot, form, "x-priority", "10")
        assert form.problem is None
        await pilot.press("enter")
        await wait_for(pilot, lambda: engine.topology.consumer("vip") is not None, "vip declared")
        assert dict(engine.topology.consumer("vip").arguments) == {"x-priority": 10}  # type: ignore[union-attr]
        await wait_for(pilot, lambda: app.ledger.consumers.get("vip") is not None, "vip subscribed")
        for n in range(3):
            msg = engine.publish("jobs", "task", {"n": n})
            await wait_for(pilot, lambda msg=msg: app.ledger.fate(msg) == {"tasks": "acked"}, f"message {n}")
        assert app.ledger.consumers["vip"].acked == 3 and app.ledger.consumers["worker"].acked == 0
        saved = parse_scenario(export(live_scenario(app), "toml"), "saved.toml").topology.consumer("vip")
        assert saved is not None and dict(saved.arguments) == {"x-priority": 10}

        editor.edit(Selection("consumer", "vip"))
        form = await form_open(pilot, app)
        assert form.query_one("#x-priority", Input).value == "10"
        await fill(pilot, form, "x-priority", "-3")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: dict(engine.topology.consumer("vip").arguments) == {"x-priority": -3},  # type: ignore[union-attr]
            "the new priority",
        )
        editor.undo()
        await wait_for(
            pilot,
            lambda: dict(engine.topology.consumer("vip").arguments) == {"x-priority": 10},  # type: ignore[union-attr]
            "undo to bring back 10",
        )
        editor.edit(Selection("consumer", "vip"))
        form = await form_open(pilot, app)
        await fill(pilot, form, "x-priority", "")  # left out: no argument, RabbitMQ's default 0
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: not engine.topology.consumer("vip").arguments, "no x-priority"  # type: ignore[union-attr]
        )
        saved = parse_scenario(export(live_scenario(app), "toml"), "saved.toml").topology.consumer("vip")
        assert saved is not None and not saved.arguments
