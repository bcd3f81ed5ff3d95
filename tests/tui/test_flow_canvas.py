"""The flow canvas in a host app: counts and names on screen, tokens that move and stop, the lens, clicks."""

from __future__ import annotations

import asyncio

from flow_host import FlowHost, delivered_and_acked, published

from tui.widgets.flow_canvas import FlowCanvas


def screen_text(canvas: FlowCanvas) -> list[str]:
    return [canvas.render_line(y).text for y in range(canvas.size.height)]


async def settle(pilot: object, canvas: FlowCanvas, timeout: float = 5.0) -> None:
    """Wait (on state, generously) until the frame timer has stopped."""
    async def stopped() -> None:
        while canvas.animating:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(stopped(), timeout)


def test_seed_shows_names_bindings_and_counts() -> None:
    asyncio.run(_seed_shows_names_bindings_and_counts())


async def _seed_shows_names_bindings_and_counts() -> None:
    app = FlowHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        text = "\n".join(screen_text(canvas))
        for word in ("media_exchange", "video_queue", "audit_queue", "worker", "video.#", "topic", "idle"):
            assert word in text
        canvas.apply(published("m1", "video.upload", ("audit_queue", "video_queue")))
        await pilot.pause()
        assert canvas.model.queues["video_queue"].ready == 1
        assert "1 ready" in "\n".join(screen_text(canvas)) or "1 rdy" in "\n".join(screen_text(canvas))


def test_timer_runs_only_while_tokens_move() -> None:
    asyncio.run(_timer_runs_only_while_tokens_move())


async def _timer_runs_only_while_tokens_move() -> None:
    app = FlowHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        assert not canvas.animating
        canvas.apply(published("m1", "video.upload", ("audit_queue", "video_queue")))
        assert canvas.animating
        assert canvas.board.moving == 2
        app.clock.advance(0.1)
        sprites = canvas.board.sprites(app.clock())
        assert {s.msg for s in sprites} == {"m1"}
        app.clock.advance(10.0)
        await settle(pilot, canvas)
        assert not canvas.animating
        before = canvas.lines_rendered
        await pilot.pause(0.2)
        assert canvas.lines_rendered == before


def test_animation_none_jumps_without_a_timer() -> None:
    asyncio.run(_animation_none_jumps_without_a_timer())


async def _animation_none_jumps_without_a_timer() -> None:
    app = FlowHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        app.animation_level = "none"
        canvas = app.canvas
        canvas.apply(published("m1", "video.upload", ("audit_queue", "video_queue")))
        canvas.apply(delivered_and_acked("m1", "video_queue"))
        await pilot.pause()
        assert not canvas.animating
        assert canvas.board.moving == 0
        assert canvas.model.consumers["worker"].acked == 1
        assert canvas.model.queues["audit_queue"].ready == 1
