"""Playing a lesson with the pilot, driven by the lesson file: the router computes each answer."""

from __future__ import annotations

from states import freeze_cursors, type_text, wait_for
from textual.pilot import Pilot
from textual.widgets import Input

from core.backends import DEFAULT_BROKER_URL
from core.engine import Engine
from core.lesson import Lesson, Step, load_lesson
from tui.lesson_app import LessonApp
from tui.testing import counting_ids


def make_lesson_app(name: str, *, speed: float = 4.0) -> LessonApp:
    lesson = load_lesson(name)
    scenario = lesson.steps[0].scenario
    assert scenario is not None
    app = LessonApp(Engine(scenario, DEFAULT_BROKER_URL, speed=speed, ids=counting_ids()), lesson)
    app.animation_level = "none"
    return app


def lesson_app(pilot: Pilot[int]) -> LessonApp:
    app = pilot.app
    assert isinstance(app, LessonApp)
    return app


async def ready(pilot: Pilot[int]) -> LessonApp:
    """Until the panel shows step 1 and the broker is connected."""
    app = lesson_app(pilot)
    await wait_for(pilot, lambda: app.shown == 0, "the lesson panel on step 1")
    await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
    await freeze_cursors(pilot)
    return app


def wrong_marks(step: Step) -> set[str]:
    """A prediction that is not the router's answer: the answer with its first queue flipped."""
    answer = set(step.answer())
    first = step.topology.queues[0].name
    return answer ^ {first}


def wrong_answer(step: Step) -> str:
    """A key or binding key the router says is wrong for this route step."""
    bound = [b.routing_key for q in step.topology.queues for b in q.bindings]
    made = [k.replace("*", "x").replace(".#", "").replace("#", "") for k in bound]
    for guess in ("no.such.key", "zzz", "#", "*", "", *made):
        if not step.route_verdict(guess, step.topology)[0]:
            return guess
    raise AssertionError(f"step {step.number}: every guess is right")


def routed(app: LessonApp) -> bool:
    """Every message published so far has been routed (the ledger knows its queues)."""
    records = [r for r in app.ledger.records.values() if r.published]
    return len(records) == app.ledger.published > 0 and all(r.queues is not None for r in records)


async def mark(pilot: Pilot[int], queues: set[str]) -> None:
    """Mark exactly `queues` with the keyboard: down to each, space."""
    app = lesson_app(pilot)
    names = [q.name for q in app.step.topology.queues]
    for _ in range(len(names)):
        if names[app.cursor] in queues:
            await pilot.press("space")
        await pilot.press("down")
    assert app.marked == queues


async def play_step(pilot: Pilot[int], *, right: bool) -> None:
    """Do the current step's task, rightly or wrongly, and wait until it is done."""
    app = lesson_app(pilot)
    step = app.step
    if step.task == "predict":
        await mark(pilot, set(step.answer()) if right else wrong_marks(step))
        await pilot.press("enter")
        assert app.done
        await wait_for(pilot, lambda: routed(app), "the predicted message to be routed")
        last = app.ledger.records[app.ledger.last_msg or ""]
        assert last.queues == step.answer(), "the broker routed it where the lesson's router said"
    elif step.task == "route":
        field = app.screen.query_one("#lesson-answer", Input)
        await wait_for(pilot, lambda: field.has_focus, "the answer field")
        if not right:
            await type_text(pilot, wrong_answer(step))
            await pilot.press("enter")
            assert not app.done
            field.value = ""
        await type_text(pilot, step.example)
        await pilot.press("enter")
        assert app.done
    else:
        while not app.done:  # each look freezes the flow until Enter
            await wait_for(pilot, lambda: app.done or app.waiting is not None, "the script to look or end")
            if app.waiting is not None:
                await pilot.press("enter")


async def play(pilot: Pilot[int], lesson: Lesson, *, right: bool) -> LessonApp:
    app = await ready(pilot)
    for index in range(len(lesson.steps)):
        assert app.index == index
        await play_step(pilot, right=right)
        await pilot.press("enter" if lesson.steps[index].task != "route" else "pagedown")
        if index + 1 < len(lesson.steps):
            await wait_for(pilot, lambda i=index: app.shown == i + 1, f"step {index + 2}")
    assert app.finished
    return app
