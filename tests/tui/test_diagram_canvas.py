"""The diagram canvas in a host app: counts and names on screen, moving and stopping tokens, lens, clicks."""

from __future__ import annotations

import asyncio
from collections import Counter

from diagram_host import DiagramHost, delivered_and_acked, engine_events, published
from rich.text import Text
from textual.pilot import Pilot

from core.events import FlowEvent
from core.ledger import Ledger
from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from tui.widgets.diagram_canvas import FLOOD_EVENTS, FLOOD_HOLD_SECONDS, DiagramCanvas
from tui.widgets.diagram_tokens import FLOOD_TOKENS, MAX_LEG


def screen_text(canvas: DiagramCanvas) -> list[str]:
    return [canvas.render_line(y).text for y in range(canvas.size.height)]


async def settle(pilot: Pilot[None], canvas: DiagramCanvas, timeout: float = 5.0) -> None:
    """Wait (on state, generously) until the frame timer has stopped."""

    async def stopped() -> None:
        while canvas.animating:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(stopped(), timeout)
    await pilot.pause()  # the last tick's final still frame


async def frame_ticks(pilot: Pilot[None], canvas: DiagramCanvas, timeout: float = 5.0) -> None:
    """Wait (on state) until the frame timer has ticked at least once more."""
    before = canvas.frames

    async def ticked() -> None:
        while canvas.frames == before:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(ticked(), timeout)


def test_seed_shows_names_bindings_and_counts() -> None:
    asyncio.run(_seed_shows_names_bindings_and_counts())


async def _seed_shows_names_bindings_and_counts() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        text = "\n".join(screen_text(canvas))
        for word in ("media_exchange", "video_queue", "audit_queue", "worker", "video.#", "topic", "idle"):
            assert word in text
        canvas.apply(published("m1", "video.upload", ("audit_queue", "video_queue")))
        await pilot.pause()
        # The count goes up when the token gets there, not before.
        assert canvas.ledger.queues["video_queue"].ready == 0 and canvas.pending == 1
        (leg, *_) = canvas.board.legs
        app.clock.advance(leg.duration - 0.01)
        await frame_ticks(pilot, canvas)  # a frame has read the clock just before the arrival
        assert canvas.ledger.queues["video_queue"].ready == 0 and canvas.pending == 1
        app.clock.advance(0.02)
        await settle(pilot, canvas)
        assert canvas.ledger.queues["video_queue"].ready == 1 and canvas.pending == 0
        assert "1 ready" in "\n".join(screen_text(canvas))


def test_timer_runs_only_while_tokens_move() -> None:
    asyncio.run(_timer_runs_only_while_tokens_move())


async def _timer_runs_only_while_tokens_move() -> None:
    app = DiagramHost("seed")
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
        assert not canvas.animating  # the frame timer is stopped, not idling: nothing ticks at rest


def test_animation_none_jumps_without_a_timer() -> None:
    asyncio.run(_animation_none_jumps_without_a_timer())


async def _animation_none_jumps_without_a_timer() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        app.animation_level = "none"
        canvas = app.canvas
        canvas.apply(published("m1", "video.upload", ("audit_queue", "video_queue")))
        canvas.apply(delivered_and_acked("m1", "video_queue"))
        await pilot.pause()
        assert not canvas.animating
        assert canvas.board.moving == 0
        assert canvas.ledger.consumers["worker"].acked == 1
        assert canvas.ledger.queues["audit_queue"].ready == 1


SCENARIOS = ("seed", "dead_letter", "headers", "twelve")


def test_at_80x24_nothing_overflows_and_a_short_canvas_scrolls() -> None:
    asyncio.run(_at_80x24())


async def _at_80x24() -> None:
    for scenario, rows in (*((s, 24) for s in SCENARIOS), ("twelve", 10)):
        app = DiagramHost(scenario)
        async with app.run_test(size=(80, rows)) as pilot:
            canvas = app.canvas
            await pilot.pause()
            width = canvas.scrollable_content_region.width
            assert canvas.virtual_size.width <= width, f"{scenario} scrolls sideways at 80 columns"
            for y in range(canvas.size.height):
                assert canvas.render_line(y).cell_length == width
            if rows == 10:
                assert canvas.virtual_size.height > canvas.size.height
                assert "q12_all" not in "\n".join(screen_text(canvas))
                canvas.scroll_end(animate=False)
                await pilot.pause()
                assert "q12_all" in "\n".join(screen_text(canvas))


def test_routing_lens_colours_matching_wires_and_clears() -> None:
    asyncio.run(_lens())


async def _lens() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        layout = canvas.layout_geometry
        video = layout.wires[("route", "media_exchange", "video_queue")].path[-2]
        audit = layout.wires[("route", "media_exchange", "audit_queue")].path[-2]

        def colour_at(cell: tuple[int, int]) -> object:
            x, y = cell
            strip = canvas.render_line(y - int(canvas.scroll_offset.y))
            segment = next(iter(strip.crop(x, x + 1)))
            assert segment.style is not None
            return segment.style.color

        plain = colour_at(video)
        success = canvas._style("wire_match").color
        canvas.preview_route("media_exchange", "user.login")
        await pilot.pause()
        builds = canvas.static_builds
        canvas.preview_route("media_exchange", "user.login")  # the same lens again: nothing to repaint
        await pilot.pause()
        assert canvas.static_builds == builds
        assert colour_at(audit) == success and colour_at(video) not in (success, plain)
        canvas.preview_route("media_exchange", "video.upload")
        assert colour_at(video) == success == colour_at(audit)
        canvas.preview_route("media_exchange", None)
        assert colour_at(video) == plain == colour_at(audit)


def test_clicks_select_nodes_moving_tokens_and_waiting_messages() -> None:
    asyncio.run(_clicks())


async def _clicks() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        layout = canvas.layout_geometry
        queue = layout.queues["video_queue"]
        await pilot.click(DiagramCanvas, offset=(queue.x + 3, queue.y))
        consumer = layout.consumers["worker"]
        await pilot.click(DiagramCanvas, offset=(consumer.x + 1, consumer.y + 2))
        assert app.selected == [("queue", "video_queue"), ("consumer", "worker")]
        canvas.apply(published("m1", "video.upload", ("video_queue",)))
        app.clock.advance(0.2)
        canvas._sprites = None
        (sprite,) = canvas.board.sprites(app.clock())
        await pilot.click(DiagramCanvas, offset=(sprite.x, sprite.y))
        assert app.selected[-1] == ("token", "m1")
        app.clock.advance(30)
        await settle(pilot, canvas)
        # Now waiting in the queue: its dot is clickable too.
        await pilot.click(DiagramCanvas, offset=(queue.x + 2, queue.mid_y))
        assert app.selected[-1] == ("token", "m1")


def test_hostile_names_render_literally_and_do_nothing_when_clicked() -> None:
    asyncio.run(_hostile())


async def _hostile() -> None:
    topology = Topology(
        (ExchangeSpec("[@click=app.quit]", "topic"),),
        (QueueSpec("a.[/]", (BindingSpec("[@click=app.quit]", "[red]x"),)),),
        (ConsumerSpec("[b]worker", ("a.[/]",)),),
    ).validate()
    app = DiagramHost(topology)
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        canvas.apply(published("[/]", "[red]x", ("a.[/]",), exchange="[@click=app.quit]"))
        canvas.apply(delivered_and_acked("[/]", "a.[/]", "[b]worker"))
        app.clock.advance(30)
        await settle(pilot, canvas)
        text = "\n".join(screen_text(canvas))
        for literal in ("[@click=app.quit]", "a.[/]", "[red]x", "[b]worker"):
            assert literal in text
        box = canvas.layout_geometry.exchanges["[@click=app.quit]"]
        await pilot.click(DiagramCanvas, offset=(box.x + 3, box.y))
        await pilot.pause()
        assert app.is_running
        assert app.selected == [("exchange", "[@click=app.quit]")]
        assert all(not seg.style or not seg.style.meta for seg in canvas.render_line(box.y))


def test_a_real_engine_run_through_the_canvas() -> None:
    events = engine_events("seed")
    asyncio.run(_real_run(events))


async def _real_run(events: list[FlowEvent]) -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(120, 30)) as pilot:
        canvas = app.canvas
        for start in range(0, len(events), 4):
            canvas.apply(events[start : start + 4])
            app.clock.advance(1 / 30)
            await pilot.pause()
        assert canvas.animating
        app.clock.advance(60)
        await settle(pilot, canvas)
        worker = canvas.ledger.consumers["worker"]
        assert (worker.processed, worker.acked) == (3, 3)
        text = "\n".join(screen_text(canvas))
        assert "in 2" in text and "done 3" in text
        assert "0 ready 0 unacked" in text


def test_theme_change_repaints_in_the_new_colours() -> None:
    asyncio.run(_theme())


async def _theme() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        before = canvas._style("q_border")
        app.theme = "textual-light"
        await pilot.pause()
        assert canvas._style("q_border") != before
        row = canvas.layout_geometry.queues["video_queue"].y
        styles = {seg.style for seg in canvas.render_line(row - int(canvas.scroll_offset.y))}
        assert canvas._style("q_border") in styles


def test_hovering_a_box_explains_it_literally() -> None:
    asyncio.run(_hover())


async def _hover() -> None:
    app = DiagramHost("dead_letter")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        queue = canvas.layout_geometry.queues["orders_queue"]
        await pilot.hover(DiagramCanvas, offset=(queue.x + 3, queue.y + 1))
        tip = canvas.tooltip
        assert isinstance(tip, Text)
        for fact in (
            "bound to orders with 'order.created'",
            "ttl 5s",
            "max length 20",
            "orders.dlx",
            "billing",
        ):
            assert fact in tip.plain
        await pilot.hover(DiagramCanvas, offset=(1, 0))
        assert canvas.tooltip is None


def flood_of(first: int, messages: int) -> list[FlowEvent]:
    """`messages` video uploads routed to both seed queues, each copy delivered and acked: six events
    a message, so 200 messages are a batch far above FLOOD_EVENTS."""
    events: list[FlowEvent] = []
    for n in range(first, first + messages):
        events += published(f"f{n}", "video.upload", ("audit_queue", "video_queue"))
        events += delivered_and_acked(f"f{n}", "video_queue") + delivered_and_acked(f"f{n}", "audit_queue")
    return events


def counts(ledger: Ledger) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {
        q: (c.ready, c.unacked, c.routed, c.acked) for q, c in ledger.queues.items()
    }
    out |= {c: (n.processed, n.acked) for c, n in ledger.consumers.items()}
    out["media_exchange"] = (ledger.exchanges["media_exchange"].published,)
    return out


def test_a_flood_draws_a_few_tokens_per_wire_and_keeps_every_count_exact() -> None:
    asyncio.run(_a_flood_draws_a_few_tokens_per_wire_and_keeps_every_count_exact())


async def _a_flood_draws_a_few_tokens_per_wire_and_keeps_every_count_exact() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        reference = Ledger(canvas.topology, keep=0, stories=False)
        calm = published("m1", "video.upload", ("audit_queue", "video_queue"))
        canvas.apply(calm)
        reference.feed_all(calm)
        assert canvas.pending == 1 and not canvas.flooded  # one copy followed: its count waits for it
        flood = flood_of(0, 200)
        assert len(flood) > FLOOD_EVENTS
        canvas.apply(flood)
        reference.feed_all(flood)
        assert canvas.flooded and canvas.pending == 0
        assert counts(canvas.ledger) == counts(reference)  # every event folded, none delayed
        per_wire = Counter(leg.wire for leg in canvas.board.legs)
        assert per_wire and max(per_wire.values()) <= FLOOD_TOKENS
        video = ("route", "media_exchange", "video_queue")
        drawn = sum(1 for leg in canvas.board.legs if leg.wire == video and leg.msg.startswith("f"))
        assert canvas.board.bundles[video].count == 200 - drawn  # the rest counted on the wire
        # a small batch right after is still drawn as a flood (no flicker between the modes) ...
        after = flood_of(200, 10)
        canvas.apply(after)
        reference.feed_all(after)
        assert canvas.flooded and canvas.pending == 0
        assert counts(canvas.ledger) == counts(reference)
        # ... and once the batches stay small, each copy is followed again
        app.clock.advance(max(FLOOD_HOLD_SECONDS, MAX_LEG) + 0.1)
        await frame_ticks(pilot, canvas)  # the flood's tokens have arrived and are gone
        calm = published("m2", "user.login", ("audit_queue",))
        canvas.apply(calm)
        reference.feed_all(calm)
        assert not canvas.flooded and canvas.pending == 1
        app.clock.advance(10.0)
        await settle(pilot, canvas)
        assert counts(canvas.ledger) == counts(reference)


def test_only_changed_rows_are_repainted_and_the_screen_shows_no_stale_token() -> None:
    asyncio.run(_only_changed_rows_are_repainted_and_the_screen_shows_no_stale_token())


async def _only_changed_rows_are_repainted_and_the_screen_shows_no_stale_token() -> None:
    app = DiagramHost("seed")
    async with app.run_test(size=(100, 30)) as pilot:
        canvas = app.canvas
        await pilot.pause()
        canvas.apply(published("m1", "video.upload", ("video_queue",)))
        (leg,) = canvas.board.legs
        wire = canvas.layout_geometry.wires[leg.wire]
        assert len({y for _x, y in wire.path}) > 1  # the token changes rows on its way
        rows_on_wire = {y for _x, y in wire.path}
        for step in range(1, 6):
            app.clock.advance(leg.duration / 6)
            before = canvas.lines_rendered
            await frame_ticks(pilot, canvas)
            await pilot.pause()
            rendered = canvas.lines_rendered - before
            # what reaches the screen (Textual's composited picture, with the rows it kept) shows as
            # many tokens as the canvas draws now: none left behind where the token was
            on_screen = app.export_screenshot().count("●")
            assert on_screen == sum(line.count("●") for line in screen_text(canvas)), f"step {step}"
            assert rendered <= len(rows_on_wire) + 2  # the wire's rows at most, not the whole canvas
