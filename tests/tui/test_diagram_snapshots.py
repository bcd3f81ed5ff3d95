"""Snapshots of the diagram canvas alone: a pinned clock makes tokens stand still mid-flight."""

from __future__ import annotations

from diagram_host import DiagramHost, delivered_and_acked, published
from textual.pilot import Pilot

from core.events import ConsumerState, DeadLettered, Delivered, Rejected


def test_seed_tokens_in_flight_with_the_lens(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = DiagramHost("seed")

    async def steps(pilot: Pilot[None]) -> None:
        await pilot.pause()  # sized first: travel times come from the laid-out wire lengths
        canvas = app.canvas
        canvas.apply(published("00000001", "video.upload", ("audit_queue", "video_queue")))
        canvas.apply(delivered_and_acked("00000001", "audit_queue"))
        canvas.apply(published("00000002", "user.login", ("audit_queue",)))
        canvas.apply(published("00000003", "nowhere", ()))
        app.clock.advance(0.3)
        canvas.preview_route("media_exchange", "video.up")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 26), run_before=steps)


def test_dead_letter_at_rest_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = DiagramHost("dead_letter")

    async def steps(pilot: Pilot[None]) -> None:
        await pilot.pause()
        app.animation_level = "none"
        canvas = app.canvas
        canvas.apply(published("00000001", "order.created", ("orders_queue",), exchange="orders"))
        canvas.apply(delivered_and_acked("00000001", "orders_queue", "billing"))
        canvas.apply(published("00000002", "order.created", ("orders_queue",), exchange="orders"))
        canvas.apply(
            [
                Delivered(msg="00000002", queue="orders_queue", consumer="billing"),
                Rejected(msg="00000002", queue="orders_queue", consumer="billing", action="dead_letter"),
                DeadLettered(
                    msg="00000002",
                    queue="orders_queue",
                    reason="rejected",
                    exchange="orders.dlx",
                    queues=("orders_dead",),
                ),
                ConsumerState(consumer="janitor", state="paused"),
            ]
        )
        canvas.apply(published("00000003", "order.cancelled", (), exchange="orders"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=steps)


def test_twelve_queues_on_one_line_each_with_waiting_messages(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = DiagramHost("twelve")

    async def steps(pilot: Pilot[None]) -> None:
        await pilot.pause()
        app.animation_level = "none"
        queues = [q.name for q in app.topology.queues]
        for i in range(40):
            routed = (queues[i % 12], "q12_all") if i % 12 != 11 else ("q12_all",)
            app.canvas.apply(published(f"{i:08d}", "k", routed, exchange="events"))
        app.canvas.preview_route("events", "eu.web.order")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 16), run_before=steps)
