"""The presenter: a high-contrast theme (also from --theme), the event log hidden and back with the
layout reflowing, and the speed, freeze and step keys still app-wide while the lens has the focus."""

from __future__ import annotations

from textual.widgets import Input

from tui.app import MqscopeApp
from tui.cli import main
from tui.controls import BINDINGS
from tui.presenter import PRESENTER, theme_names
from tui.testing import make_app, settle, wait_for
from tui.widgets.diagram_palette import diagram_styles


async def test_the_presenter_theme_is_registered_and_keeps_faint_parts_readable() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(100, 30)) as pilot:
        assert PRESENTER in app.available_themes
        default = diagram_styles(app.current_theme, app.session_screen.canvas.rich_style)
        app.theme = PRESENTER
        await pilot.pause()
        presenter = diagram_styles(app.current_theme, app.session_screen.canvas.rich_style)
    assert app.current_theme.background == "#000000" and app.current_theme.foreground == "#ffffff"
    faint = presenter["dim"].color
    assert faint is not None and faint.triplet is not None
    assert min(faint.triplet) > 100  # grey that survives a projector (the default fades to ~70)
    assert default["dim"] != presenter["dim"]


def test_the_app_starts_in_the_theme_named_on_the_command_line() -> None:
    app = MqscopeApp(make_app("seed").engine, theme=PRESENTER)
    assert app.theme == PRESENTER
    assert PRESENTER in theme_names()


def test_an_unknown_theme_is_one_line_and_exit_2(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--theme", "projector-ish"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown theme 'projector-ish'" in err and PRESENTER in err


async def test_ctrl_l_hides_the_log_while_typing_and_the_diagram_takes_its_room() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(80, 24)) as pilot:
        canvas, log = app.session_screen.canvas, app.session_screen.event_log
        assert isinstance(app.focused, Input)  # the lens: ctrl+l works while typing
        before = canvas.size.height
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not log.display and canvas.size.height > before
        assert isinstance(app.focused, Input) and app.focused.value == ""  # nothing typed
        await pilot.press("f10")  # a reset builds a new screen: the log stays hidden
        await wait_for(pilot, lambda: app.session_screen.event_log is not log, "the reset")
        await pilot.pause()
        assert not app.session_screen.event_log.display
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert app.session_screen.event_log.display
        assert app.session_screen.canvas.size.height == before


async def test_the_palette_toggles_the_log_too() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)):
        commands = {c.title: c.callback for c in app.get_system_commands(app.screen)}
        commands["Show/hide event log"]()
        assert not app.show_log and app.session_screen.has_class("-no-log")


async def test_speed_freeze_and_step_are_app_keys_that_work_while_typing() -> None:
    """Lessons run on the same app: its bindings, not a screen's, so any screen keeps them."""
    app_keys = {b.key: b.action for b in BINDINGS if not isinstance(b, tuple)}  # type: ignore[union-attr]
    assert {app_keys[k] for k in ("f5", "f6", "f7", "f8")} == {"toggle_pause_all", "step", "slower", "faster"}
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+l", "f7")
        assert app.engine.clock.speed == 2.0
        await pilot.press("f5")
        assert app.engine.gate.paused
        await pilot.press("f6")
        await pilot.press("f5")
        assert not app.engine.gate.paused
        await settle(pilot)
