"""Pilot tests of saving and exporting from the palette: the live topology is written, an existing
file only after a second Enter, and problems (no such directory, a name with no known format) show in
place while the dialog stays open."""

from __future__ import annotations

import json
from pathlib import Path

from states import make_app, settle, wait_for
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, Static

from core.scenario import load_scenario
from core.scenario_files import open_scenario
from core.topology import BindingSpec, QueueSpec
from core.topology_changes import declare, queue_binding
from tui.app import MqscopeApp
from tui.widgets.save_dialog import SaveDialog


async def _run_command(app: MqscopeApp, pilot: Pilot[int], title: str) -> SaveDialog:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    await pilot.press(*title)
    command_list = app.screen.query_one(CommandList)
    await wait_for(
        pilot,
        lambda: any(title in o.prompt.plain for o in command_list.options),  # type: ignore[attr-defined]
        f"the {title!r} hit",
    )
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, SaveDialog), "the save dialog")
    assert isinstance(app.screen, SaveDialog)
    return app.screen


async def _submit(pilot: Pilot[int], dialog: SaveDialog, path: str) -> None:
    field = dialog.query_one("#save-path", Input)
    if field.value != path:
        field.value = path
    field.focus()
    await pilot.press("enter")
    await pilot.pause()


def _problem(dialog: SaveDialog) -> str:
    return str(dialog.query_one("#save-problem", Static).render())


async def test_save_writes_the_live_topology_and_asks_before_overwriting(tmp_path: Path) -> None:
    app = make_app("seed")
    target = tmp_path / "mine.toml"
    target.write_text("# mine, not to be lost\n")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot, published=2)
        app.engine.change_topology(declare(QueueSpec("reports")))
        app.engine.change_topology(declare(queue_binding("media_exchange", "reports", "report.*")))
        await wait_for(pilot, lambda: app.engine.topology.queue("reports") is not None, "the new queue")
        await wait_for(pilot, lambda: bool(app.engine.topology.queue("reports").bindings), "its binding")  # type: ignore[union-attr]

        dialog = await _run_command(app, pilot, "Save scenario as TOML")
        await _submit(pilot, dialog, str(tmp_path / "no" / "such" / "dir.toml"))
        assert app.screen is dialog
        assert "no such directory" in _problem(dialog)

        await _submit(pilot, dialog, str(target))
        assert app.screen is dialog  # not written: asked first
        assert _problem(dialog) == f"{target} exists: Enter again overwrites it, Esc cancels"
        assert target.read_text() == "# mine, not to be lost\n"

        await _submit(pilot, dialog, str(target))  # the confirm
        await wait_for(pilot, lambda: not isinstance(app.screen, SaveDialog), "the dialog to close")
        saved = load_scenario(str(target))
        assert saved.topology.queue("reports") == QueueSpec(
            "reports", (BindingSpec("media_exchange", "report.*"),)
        )
        assert saved.publishes == load_scenario("seed").publishes
        assert app.is_running


async def test_a_new_path_after_the_warning_asks_again(tmp_path: Path) -> None:
    app = make_app("seed", play_script=False)
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text("a\n")
    second.write_text("b\n")
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await _run_command(app, pilot, "Save scenario as TOML")
        await _submit(pilot, dialog, str(first))
        await _submit(pilot, dialog, str(second))  # another file: a new question, not the confirm
        assert "b.toml exists" in _problem(dialog)
        assert (first.read_text(), second.read_text()) == ("a\n", "b\n")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SaveDialog), "the dialog to close")
        assert (first.read_text(), second.read_text()) == ("a\n", "b\n")


async def test_export_picks_the_format_by_the_name(tmp_path: Path) -> None:
    app = make_app("dead_letter", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await _run_command(app, pilot, "Export definitions / kombu program")
        await _submit(pilot, dialog, str(tmp_path / "topology.txt"))
        assert "end the name with .json" in _problem(dialog)
        await _submit(pilot, dialog, str(tmp_path / "topology.json"))
        await wait_for(pilot, lambda: not isinstance(app.screen, SaveDialog), "the dialog to close")
        data = json.loads((tmp_path / "topology.json").read_text())
        assert [q["name"] for q in data["queues"]] == ["orders_queue", "shipping", "orders_dead"]

        dialog = await _run_command(app, pilot, "Export definitions / kombu program")
        await _submit(pilot, dialog, str(tmp_path / "run.py"))
        await wait_for(pilot, lambda: not isinstance(app.screen, SaveDialog), "the dialog to close")
        compile((tmp_path / "run.py").read_text(), "run.py", "exec")


async def test_what_an_import_could_not_use_is_one_notification() -> None:
    shop = Path(__file__).resolve().parents[1] / "data" / "definitions_shop.json"
    app = make_app(open_scenario(str(shop)), play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: bool(app._notifications), "the notification")
        (notification,) = app._notifications
        assert notification.severity == "warning"
        assert notification.message.startswith(f"{shop}: not used (12): 2 users;")
        assert "argument 'x-queue-mode'" in notification.message
