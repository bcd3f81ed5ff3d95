"""Delivered, consumer crashed, Requeued: the inspector, the status line, the tooltip and the canvas agree.

Before the one ledger the inspector's fold said requeued 0 / ready 0 here and the canvas's requeued 1 /
ready 1. This drives the real app: its own broker loops are stopped first, so only these events count.
"""

from __future__ import annotations

from rich.text import Text
from states import make_app, wait_for
from textual.widgets import Static

from core.events import ConsumerState, Delivered, FlowEvent, Published, Requeued, Routed
from tui.widgets.diagram_paint import paint
from tui.widgets.inspector import node_text

CRASH: list[FlowEvent] = [
    Published(msg="m1", exchange="media_exchange", routing_key="user.login", body={}),
    Routed(msg="m1", exchange="media_exchange", routing_key="user.login", queues=("audit_queue",)),
    Delivered(msg="m1", queue="audit_queue", consumer="worker"),
    ConsumerState(consumer="worker", state="crashed", detail="connection dropped"),
    Requeued(msg="m1", queue="audit_queue", reason="consumer crashed"),
]


async def test_a_crash_reads_the_same_everywhere() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
        app.stop_workers()
        assert app.engine_workers is not None and app.engine_workers.join(5.0)
        await wait_for(pilot, lambda: len(app.engine.events) == 0, "the last events of the loops")
        screen = app.session_screen
        screen.apply(CRASH)  # what the frame pump does with a batch
        app.refresh_status()
        screen.inspect("queue", "audit_queue")
        await pilot.pause()

        assert (app.ledger.queues["audit_queue"].ready, app.ledger.consumers["worker"].requeued) == (1, 1)
        body = screen.inspector.query_one("#inspector-body", Static).content
        assert isinstance(body, Text)
        assert "ready       1" in body.plain and "unacked     0" in body.plain
        screen.inspect("consumer", "worker")
        await pilot.pause()
        body = screen.inspector.query_one("#inspector-body", Static).content
        assert isinstance(body, Text) and "requeued    1" in body.plain

        facts = screen.status.facts
        assert facts is not None and (facts.published, facts.in_flight) == (1, 1)

        canvas = screen.canvas
        assert canvas.pending == 0  # animations are off: the canvas shows everything at once
        tip = node_text(canvas.ledger, "consumer", "worker", recent=0).plain
        assert "requeued    1" in tip
        assert node_text(canvas.ledger, "queue", "audit_queue", recent=0).plain == (
            node_text(app.ledger, "queue", "audit_queue", recent=0).plain
        )
        grid = paint(canvas.layout_geometry, canvas.ledger, None)
        drawn = "\n".join(grid.line(y) for y in range(grid.height))
        assert "↺requeued 1" in drawn or "↺1" in drawn
        audit = canvas.layout_geometry.queues["audit_queue"]
        assert "1 ready 0 unacked" in grid.line(audit.mid_y) or "1 rdy 0 unack" in grid.line(audit.mid_y)
