"""Every built-in lesson played with the pilot, right and wrong, driven by the lesson file itself:
predict marks the router's answer (or not), route types the checked example (after a wrong guess)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lesson_play import make_lesson_app, mark, play, ready
from states import wait_for
from textual.widgets import Static

from core.lesson import builtin_lesson_names, load_lesson
from tui.lesson_app import LessonApp

SIZE = (120, 44)


@pytest.mark.parametrize("name", builtin_lesson_names())
async def test_lesson_played_right(name: str) -> None:
    lesson = load_lesson(name)
    app = make_lesson_app(name)
    async with app.run_test(size=SIZE) as pilot:
        await play(pilot, lesson, right=True)
        scored = [i for i, s in enumerate(lesson.steps) if s.task != "watch"]
        assert app.results == dict.fromkeys(scored, True)


@pytest.mark.parametrize("name", builtin_lesson_names())
async def test_lesson_played_wrong(name: str) -> None:
    """A wrong first answer costs the point and breaks nothing: the lesson plays on to its end."""
    lesson = load_lesson(name)
    app = make_lesson_app(name)
    async with app.run_test(size=SIZE) as pilot:
        await play(pilot, lesson, right=False)
        scored = [i for i, s in enumerate(lesson.steps) if s.task != "watch"]
        assert app.results == dict.fromkeys(scored, False)
        assert app.score() == (0, len(scored))


async def test_the_status_line_names_the_lesson_not_its_scenario() -> None:
    lesson = load_lesson("topic_hash")
    app = make_lesson_app("topic_hash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        facts = app.session_screen.status.facts
        assert facts is not None and app.engine.scenario.name == "seed"
        assert (facts.scenario, facts.short_scenario) == (lesson.title, "topic_hash")


async def test_the_lens_keeps_its_verdict_until_the_commit() -> None:
    app = make_lesson_app("topic_hash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        matches = app.screen.query_one("#matches", Static)
        assert "hidden" in str(matches.render())
        assert app.session_screen.canvas.lens is not None and not app.session_screen.canvas.lens.queues
        await mark(pilot, {"video_queue"})
        assert app.session_screen.canvas.lens.queues == {"video_queue"}  # the marks, not the answer
        await pilot.press("enter")
        await pilot.pause()
        shown = str(matches.render())
        assert "hidden" not in shown and "#=upload" in shown  # word by word, as the lens explains
        task = str(app.screen.query_one("#lesson-task", Static).render())
        assert "Not quite" in task and "✗ audit_queue gets a copy (you did not mark it)" in task


async def test_a_click_on_a_queue_marks_it() -> None:
    app = make_lesson_app("topic_hash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        canvas = app.session_screen.canvas
        # The panel mounted above the diagram moves it down: click where it is once laid out again.
        await wait_for(pilot, lambda: canvas.region.y > app.panel.region.y, "the diagram below the panel")
        await pilot.pause()
        box = next(b for b in canvas.layout_geometry.boxes() if b.kind == "queue" and b.name == "audit_queue")
        await pilot.click(canvas, offset=(box.x + 2 - canvas.scroll_offset.x, box.y + 1))
        assert app.marked == {"audit_queue"}
        assert not app.session_screen.inspector.display  # the click marked; it did not inspect


async def test_back_next_and_restart() -> None:
    lesson = load_lesson("direct")
    app = make_lesson_app("direct")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n", "n")
        await wait_for(pilot, lambda: app.shown == 2, "step 3")
        await wait_for(pilot, lambda: app.engine.topology == lesson.steps[2].topology, "step 3's binding")
        await pilot.press("b")
        await wait_for(pilot, lambda: app.shown == 1, "step 2 again")
        assert app.engine.topology == lesson.steps[1].topology  # a fresh session: the change undone
        await pilot.press("enter")  # commits an empty prediction: right ('email.urgent' reaches nothing)
        assert app.results == {1: True}
        await pilot.press("r")
        await wait_for(pilot, lambda: app.shown == 0 and not app.results, "the lesson from the start")
        head = str(app.screen.query_one("#lesson-head", Static).render())
        assert "step 1 of 4" in head and "score 0/0" in head


async def test_the_readme_lesson_plays(tmp_path: Path) -> None:
    """The README's example lesson, played right with the same driver as the built-in course."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[lesson\]\n.*?)```", readme, re.DOTALL)
    assert block is not None, "the README lost its lesson example"
    path = tmp_path / "readme_lesson.toml"
    path.write_text(block.group(1), encoding="utf-8")
    app = make_lesson_app(str(path))
    async with app.run_test(size=SIZE) as pilot:
        await play(pilot, load_lesson(str(path)), right=True)
        assert app.score() == (2, 2)


def _redelivered(app: LessonApp) -> int:
    return sum(r.redelivered for r in app.ledger.records.values())


WATCHED = {
    # lesson: (what its watch steps say happens, read from the one ledger)
    "crash": lambda app: _redelivered(app) == 1 and app.ledger.consumers["worker"].acked == 3,
    "failures": lambda app: (
        (
            app.ledger.consumers["retrier"].requeued,
            app.ledger.consumers["rejecter"].dead_lettered,
            app.ledger.consumers["auditor"].acked,
            app.ledger.consumers["dropper"].dropped,
        )
        == (1, 1, 1, 1)
    ),
    "ttl_maxlen": lambda app: (
        # the predicted message and orders 2-4 expire, order 1 overflows: all five dead-lettered
        (app.ledger.queues["shipping"].expired, app.ledger.queues["shipping"].dead_lettered) == (4, 5)
    ),
    "alternate": lambda app: app.ledger.exchanges["strict"].returned == 1,
    "competing": lambda app: all(app.ledger.consumers[w].processed > 0 for w in ("w1", "w2")),
    "tutorial_defects": lambda app: app.ledger.consumers["worker"].requeued == 1,
}


@pytest.mark.parametrize("name", list(WATCHED))
async def test_watch_steps_show_what_they_say(name: str) -> None:
    app = make_lesson_app(name)
    async with app.run_test(size=SIZE) as pilot:
        await play(pilot, load_lesson(name), right=True)
        assert WATCHED[name](app)
