"""Queue boxes mark what their arguments make them do (quorum, single active consumer, priorities,
overflow): whole marks only, as many as fit beside the name, each spelled out in the inspector."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from states import make_app, settle
from test_screen_fit import SIZES, check_canvas_names, drawn

from core.queue_marks import queue_marks
from core.scenario import Scenario, load_scenario
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.inspector import node_text

ARGUMENTS = {
    "video_queue": {
        "x-queue-type": "quorum",
        "x-single-active-consumer": True,
        "x-overflow": "reject-publish",
    },
    "audit_queue": {"x-max-priority": 10, "x-overflow": "reject-publish-dlx"},
}


def marked() -> Scenario:
    """The seed scenario with queue arguments on both queues (built directly: scenario files refuse
    the arguments this broker does not model yet, but the canvas marks them all)."""
    seed = load_scenario("seed")
    queues = tuple(replace(q, arguments=ARGUMENTS[q.name]) for q in seed.topology.queues)
    return replace(seed, topology=replace(seed.topology, queues=queues))


def test_marks_most_telling_first_and_spelled_out() -> None:
    assert [m.short for m in queue_marks(ARGUMENTS["video_queue"])] == ["QQ", "SAC", "rej"]
    assert [m.short for m in queue_marks(ARGUMENTS["audit_queue"])] == ["Pri10", "rej+dlx"]
    assert queue_marks({"x-overflow": "drop-head", "x-queue-type": "classic"}) == []


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queue_marks_are_whole_and_fit(size: tuple[int, int]) -> None:
    asyncio.run(_marks_fit(size))


async def _marks_fit(size: tuple[int, int]) -> None:
    app = make_app(marked(), play_script=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, published=0)
        check_canvas_names(app)
        rows = drawn(app.screen.query_one(DiagramCanvas))
        for name, arguments in ARGUMENTS.items():
            top = next(row for row in rows if f" {name} " in row)
            shorts = [m.short for m in queue_marks(arguments)]
            shown = [s for s in shorts if s in top]
            assert shown == shorts[: len(shown)], f"marks are dropped from the end only: {top!r}"
            if size[0] >= 120:  # narrower, a box has room for its name only: no mark, none cut
                assert shown, f"{name}: at {size} the first mark fits: {top!r}"
        text = node_text(app.ledger, "queue", "video_queue", recent=0).plain
        assert "quorum queue" in text and "single active consumer" in text
