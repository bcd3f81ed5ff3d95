"""The palette's file commands: save the live scenario as TOML, export it as RabbitMQ definitions or a
kombu program. Each asks a path in a SaveDialog and writes what the topology is at that moment (the
engine's live topology, after any edits) with the scenario's publish script."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from core.exporters import ExportError, export
from core.scenario import Scenario
from tui.widgets.save_dialog import SaveDialog

if TYPE_CHECKING:
    from tui.app import MqscopeApp

EXPORT_BY_SUFFIX = {".json": "definitions", ".py": "kombu"}


def live_scenario(app: MqscopeApp) -> Scenario:
    """The running scenario as it is now: its live topology, its script, the producers running now."""
    scenario = app.engine.scenario
    producers = tuple(app.engine.producers.specs().values())
    live = replace(scenario, topology=app.engine.topology, notice=None, source=f"the live {scenario.name}")
    return replace(live, producers=producers)


def export_format(path: str) -> str:
    """definitions for a .json path, kombu for .py; anything else is refused in place."""
    for suffix, fmt in EXPORT_BY_SUFFIX.items():
        if path.lower().endswith(suffix):
            return fmt
    raise ExportError("end the name with .json (RabbitMQ definitions) or .py (a kombu program)")


def save_toml(app: MqscopeApp) -> None:
    dialog = SaveDialog(
        "Save scenario as TOML",
        "The live topology and the publish script. Enter saves, Esc cancels.",
        f"{app.engine.scenario.name}.toml",
        lambda _path: export(live_scenario(app), "toml"),
    )
    app.push_screen(dialog, lambda path: _written(app, path))


def export_file(app: MqscopeApp) -> None:
    dialog = SaveDialog(
        "Export definitions / kombu program",
        "NAME.json: RabbitMQ definitions (vhost /); NAME.py: a kombu program. Enter writes, Esc cancels.",
        f"{app.engine.scenario.name}.json",
        lambda path: export(live_scenario(app), export_format(path)),
    )
    app.push_screen(dialog, lambda path: _written(app, path))


def _written(app: MqscopeApp, path: str | None) -> None:
    if path is not None:
        app.notify(f"written: {path}", markup=False)


def file_commands(app: MqscopeApp) -> Iterable[SystemCommand]:
    yield SystemCommand(
        "Save scenario as TOML…",
        "write the live topology and publish script to a file",
        lambda: save_toml(app),
    )
    yield SystemCommand(
        "Export definitions / kombu program…",
        "write the live topology as RabbitMQ definitions (.json) or a kombu program (.py)",
        lambda: export_file(app),
    )
