"""Snapshots of a predict step before the reveal (lens hidden, the learner's marks on the diagram)
and after it (the message published and settled, each queue explained, the lens word by word)."""

from __future__ import annotations

from lesson_play import lesson_app, make_lesson_app, mark, ready, routed
from states import settle, wait_for
from textual.pilot import Pilot

SIZE = (120, 44)


async def marked_before_reveal(pilot: Pilot[int]) -> None:
    await ready(pilot)
    await mark(pilot, {"video_queue"})  # step 1 asks about 'video.upload': a wrong guess, to explain
    await pilot.pause()


async def after_reveal(pilot: Pilot[int]) -> None:
    await marked_before_reveal(pilot)
    await pilot.press("enter")
    app = lesson_app(pilot)
    await wait_for(pilot, lambda: routed(app), "the message to be routed")
    await settle(pilot, published=1)


def test_predict_before_reveal(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_lesson_app("topic_hash"), terminal_size=SIZE, run_before=marked_before_reveal)


def test_predict_after_reveal(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(make_lesson_app("topic_hash"), terminal_size=SIZE, run_before=after_reveal)
