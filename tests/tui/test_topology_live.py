"""The app follows a topology that changes while it runs: a box appears, a wire goes, the lens agrees."""

from __future__ import annotations

from states import make_app, wait_for

from core.topology import QueueSpec
from core.topology_changes import declare, delete, queue_binding
from tui.widgets.diagram_paint import paint


def drawn(app: object) -> str:
    canvas = app.session_screen.canvas  # type: ignore[attr-defined]
    grid = paint(canvas.layout_geometry, canvas.ledger, canvas.lens)
    return "\n".join(grid.line(y) for y in range(grid.height))


async def test_a_queue_added_and_an_unbinding_show_on_the_canvas_and_in_the_lens() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
        canvas = app.session_screen.canvas
        assert "reports" not in canvas.layout_geometry.queues

        app.engine.change_topology(declare(QueueSpec("reports")))
        app.engine.change_topology(declare(queue_binding("media_exchange", "reports", "report.*")))
        await wait_for(pilot, lambda: "reports" in canvas.layout_geometry.queues, "the new queue's box")
        picture = drawn(app)
        assert "reports" in picture and "report.*" in picture

        # The lens judges a typed key against the bindings as they are now.
        await pilot.click("#routing-key")
        await pilot.press(*"report.daily")
        await wait_for(
            pilot,
            lambda: canvas.lens is not None and canvas.lens.queues == {"reports", "audit_queue"},
            "the lens to light the new queue",
        )

        wire = ("route", "media_exchange", "audit_queue")
        assert wire in canvas.layout_geometry.wires
        app.engine.change_topology(delete(queue_binding("media_exchange", "audit_queue", "#")))
        await wait_for(pilot, lambda: wire not in canvas.layout_geometry.wires, "the unbound wire to go")
        await wait_for(
            pilot,
            lambda: canvas.lens is not None and canvas.lens.queues == {"reports"},
            "the lens to drop the unbound queue",
        )
        assert "audit_queue" in canvas.layout_geometry.queues  # the queue stays, unbound


async def test_a_queue_deleted_by_x_expires_leaves_the_canvas() -> None:
    """mqscope:// deletes an unused queue when its x-expires runs out: its box and wire go."""
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
        canvas = app.session_screen.canvas
        app.engine.change_topology(declare(QueueSpec("fleeting", arguments={"x-expires": 300})))
        app.engine.change_topology(declare(queue_binding("media_exchange", "fleeting", "flee.*")))
        await wait_for(pilot, lambda: "fleeting" in canvas.layout_geometry.queues, "the new queue's box")
        assert "fleeting" in drawn(app)
        await wait_for(
            pilot, lambda: "fleeting" not in canvas.layout_geometry.queues, "the expired box to go"
        )
        assert "fleeting" not in drawn(app) and "flee.*" not in drawn(app)
        assert app.engine.topology.queue("fleeting") is None
