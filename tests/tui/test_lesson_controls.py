"""The presenter's keys inside a lesson: F5 freeze, F6 step, F7/F8 speed and ctrl+l (the log), in a
watch step, at a predict reveal and across steps; and a watch step that can never finish."""

from __future__ import annotations

from pathlib import Path

from lesson_play import make_lesson_app, mark, play_step, ready, routed
from states import wait_for
from textual.widgets import Static

from core.lesson import load_lesson
from tui.lesson_app import LessonApp

SIZE = (120, 44)


def _task(app: LessonApp) -> str:
    return str(app.screen.query_one("#lesson-task", Static).render())


async def _step_until(pilot: object, app: LessonApp, condition: object, what: str) -> int:
    """Press F6 (one broker action each) until `condition()` holds; how many presses it took."""
    assert callable(condition)
    for presses in range(1, 100):
        await pilot.press("f6")  # type: ignore[attr-defined]
        await pilot.pause(0.05)  # type: ignore[attr-defined]
        if condition():
            return presses
    raise AssertionError(f"F6 never got to {what}")


async def test_freeze_and_step_during_a_watch_step() -> None:
    """Frozen (F5) before a watch step: the script's publish waits for F6, one action at a time; its
    look does not unfreeze what the learner froze, and F5 lets the rest run to the end."""
    app = make_lesson_app("crash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await play_step(pilot, right=True)  # step 1: predict
        await wait_for(pilot, lambda: app.ledger.quiet(), "the predicted message to settle")
        await pilot.press("f5")
        assert app.engine.gate.paused
        await pilot.press("enter")  # step 2: watch the crash
        await wait_for(pilot, lambda: app.shown == 1 and len(app.narration) == 1, "the script's publish")
        assert app.engine.gate.paused, "going to the next step kept the learner's freeze"
        assert "❄ frozen" in _task(app)
        await pilot.press("f6")  # one action: the publish (the broker then delivers it)
        await wait_for(pilot, lambda: app.waiting is not None, "the look at the delivery")
        assert app.ledger.published == 2
        assert app.engine.gate.paused
        assert not app.ledger.records[app.ledger.last_msg or ""].settled  # handling it is an action
        await pilot.press("enter")  # go on: the look's Enter does not unfreeze the learner's freeze
        assert app.engine.gate.paused
        await wait_for(pilot, lambda: len(app.narration) == 3, "the crash and the redelivery line")
        assert not app.ledger.records[app.ledger.last_msg or ""].settled
        await _step_until(pilot, app, lambda: app.waiting is not None, "the look at the redelivery")
        assert app.ledger.records[app.ledger.last_msg or ""].redelivered
        assert app.ledger.records[app.ledger.last_msg or ""].settled
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.done, "the script's end")
        assert app.engine.gate.paused  # still the learner's freeze
        await pilot.press("f5")
        assert not app.engine.gate.paused and "❄ frozen" not in _task(app)


async def test_a_look_freezes_and_enter_unfreezes() -> None:
    """Not frozen by the learner: a look freezes the flow, F6 steps inside it, Enter goes on."""
    app = make_lesson_app("crash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await play_step(pilot, right=True)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.waiting is not None, "the first look")
        assert app.engine.gate.paused
        await pilot.press("f8", "f7")  # 4x is the top: F8 keeps it, F7 halves it
        assert app.engine.clock.speed == 2.0 and app.waiting is not None  # the keys work in a look
        await pilot.press("enter")
        assert not app.engine.gate.paused
        await wait_for(pilot, lambda: app.waiting is not None, "the second look")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.done, "the script's end")


async def test_frozen_reveal_routes_on_f6() -> None:
    """A prediction committed while frozen: the reveal is shown, the message waits for F6."""
    app = make_lesson_app("topic_hash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f5")
        await mark(pilot, set(app.step.answer()))
        await pilot.press("enter")
        assert app.done and "Right" in _task(app)
        assert app.ledger.published == 0
        await _step_until(pilot, app, lambda: routed(app), "the predicted message routed")
        assert app.engine.gate.paused


async def test_speed_freeze_and_log_hold_across_steps() -> None:
    """F7 (slower), F5 and ctrl+l inside a lesson; a step back starts a fresh session, which keeps
    the speed, the freeze and the hidden log."""
    lesson = load_lesson("direct")
    app = make_lesson_app("direct")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f7", "ctrl+l", "f5")
        assert app.engine.clock.speed == 2.0
        assert app.session_screen.has_class("-no-log")
        await pilot.press("n", "n")
        await wait_for(pilot, lambda: app.shown == 2, "step 3")
        await pilot.press("b")
        await wait_for(pilot, lambda: app.shown == 1, "step 2 in a fresh session")
        assert app.engine.topology == lesson.steps[1].topology
        assert app.engine.clock.speed == 2.0 and app.engine.gate.paused
        assert app.session_screen.has_class("-no-log")
        await pilot.press("ctrl+l")
        assert not app.session_screen.has_class("-no-log")


STUCK = """\
[lesson]
name = "stuck"
title = "A message nobody takes"

[[steps]]
text = "Nobody consumes parked, and nothing expires there."
task = "watch"
script = [
  { say = "A message goes to parked.", publish = "park", wait = "settled" },
  { say = "And the script goes on.", wait = "none" },
]

[steps.scenario]
exchanges = [{ name = "ex", type = "direct" }]
queues = [{ name = "parked", bindings = [{ exchange = "ex", routing_key = "park" }] }]
"""


async def test_a_watch_step_that_never_settles_goes_on(tmp_path: Path) -> None:
    """The wait runs out of patience (flow time, frozen time not counted), says so, and goes on."""
    path = tmp_path / "stuck.toml"
    path.write_text(STUCK, encoding="utf-8")
    app = make_lesson_app(str(path))
    app.patience = 2.0  # flow seconds: half a second at 4x
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.done, "the script to give up waiting and end")
        assert app.gave_up == 2  # the line's wait, then the end's
        assert app.ledger.queues["parked"].ready == 1  # the message is still there: nothing lost
        task = _task(app)
        assert "still waiting after 2 s of flow" in task and "And the script goes on." in task
        assert "✓ watched" in task


async def test_marking_on_the_diagram_with_the_keyboard() -> None:
    """Tab to the diagram: arrows move between queue boxes only, space marks (the panel's list and
    the canvas's marks follow), the editing keys are off, Enter commits."""
    app = make_lesson_app("topic_hash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        canvas = app.session_screen.canvas
        answer = set(app.step.answer())
        queues = [q.name for q in app.step.topology.queues]
        await pilot.press("tab")
        while not canvas.has_focus:
            await pilot.press("tab")
        assert canvas.marking
        assert canvas.selection is not None and canvas.selection.kind == "queue"
        seen: set[str] = set()
        for _ in range(len(queues)):
            selection = canvas.selection
            assert selection is not None and selection.kind == "queue"  # never leaves the queues
            assert queues[app.cursor] == selection.name  # one cursor: the panel's follows
            if selection.name in answer and selection.name not in app.marked:
                await pilot.press("space")
            seen.add(selection.name)
            await pilot.press("right")
        assert seen == set(queues)
        assert app.marked == answer
        assert canvas.lens is not None and canvas.lens.queues == answer  # drawn on the diagram
        await pilot.press("d", "a")  # editing keys: off while predicting
        assert app.engine.topology == app.step.topology and len(app.screen_stack) == 2
        await pilot.press("enter")
        assert app.done and app.results == {0: True} and not canvas.marking
        await wait_for(pilot, lambda: routed(app), "the predicted message routed")


async def test_panel_cursor_shows_on_the_diagram() -> None:
    app = make_lesson_app("topic_hash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        canvas = app.session_screen.canvas
        queues = [q.name for q in app.step.topology.queues]
        await pilot.press("down")
        assert canvas.selection is not None and canvas.selection.name == queues[1]
