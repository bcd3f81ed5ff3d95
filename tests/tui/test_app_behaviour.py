"""Pilot tests of the running app: they assert on state (counts, consumer states, events), not pixels."""

from __future__ import annotations

import dataclasses

from rich.text import Text
from states import make_app, settle, type_text, wait_for
from textual.widgets import Input, Static

from core.engine import Engine
from core.events import Acked, ConsumerState, Delivered, FlowEvent, Published, Rejected, Requeued
from core.scenario import Scenario, builtin_names, load_scenario
from tui.app import MqscopeApp
from tui.screen import SessionScreen
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.event_log import EventLog
from tui.widgets.scenario_picker import ScenarioPicker


def _plain(app, selector: str) -> str:  # type: ignore[no-untyped-def]
    """What a Static shows, as plain text (its markup, had it been parsed, would be gone)."""
    rendered = app.screen.query_one(selector, Static).render()
    return rendered.plain if isinstance(rendered, Text) else str(getattr(rendered, "plain", rendered))


def _log_text(app) -> str:  # type: ignore[no-untyped-def]
    log = app.screen.query_one(EventLog)
    return "\n".join(log.plain_lines())


def _seed_working(seconds: float) -> Scenario:
    """The seed with its worker's simulated work set to `seconds` (0: it acks as soon as it may)."""
    seed = load_scenario("seed")
    (worker,) = seed.topology.consumers
    changed = dataclasses.replace(worker, work_seconds=seconds)
    topology = dataclasses.replace(seed.topology, consumers=(changed,))
    return dataclasses.replace(seed, topology=topology)


async def _publish_ok_and_settle(app: MqscopeApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """Publish a valid message after refused ones and settle on it: had a refused one gone out
    it would have been published first, so "only this one" is known, not waited for."""
    app.screen.query_one("#routing-key", Input).value = "ok"
    app.screen.query_one("#message-body", Input).value = '{"file": "a"}'
    app.screen.query_one("#routing-key", Input).focus()
    await pilot.press("enter")
    await settle(pilot)
    assert [(r.msg, r.routing_key, r.body) for r in app.ledger.records.values()] == [
        ("00000001", "ok", {"file": "a"})
    ]


async def test_seed_script_counts_per_queue_and_consumer() -> None:
    app = make_app("seed")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        queues = app.ledger.queues
        assert (queues["video_queue"].routed, queues["video_queue"].acked) == (1, 1)
        assert (queues["audit_queue"].routed, queues["audit_queue"].acked) == (2, 2)
        worker = app.ledger.consumers["worker"]
        assert (worker.acked, worker.processed, worker.requeued) == (3, 3, 0)
        assert worker.state == "idle"
        log = _log_text(app)
        assert "SENDING [00000001] 'video.upload'" in log
        assert "RECEIVED [00000002] via 'user.login' from audit_queue by worker" in log
        assert app.screen.focused is app.screen.query_one("#routing-key")


async def test_typed_key_publishes_through_the_producer_and_is_remembered() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await type_text(pilot, "video.new")
        await pilot.press("enter")
        await settle(pilot)
        record = app.ledger.records["00000001"]
        assert record.queues == ("audit_queue", "video_queue")
        assert app.ledger.fate("00000001") == {"audit_queue": "acked", "video_queue": "acked"}
        key_input = app.screen.query_one("#routing-key", Input)
        await pilot.press("ctrl+u", "up")
        assert key_input.value == "video.new"
        await pilot.press("down")
        assert key_input.value == ""


async def test_a_paused_consumer_takes_nothing_until_resumed() -> None:
    seen: list[FlowEvent] = []
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.frame_hooks.append(seen.extend)
        worker = app.ledger.consumers["worker"]
        await wait_for(pilot, lambda: worker.state == "idle", "worker idle")
        await pilot.press("f2")
        await wait_for(pilot, lambda: worker.state == "paused", "paused")
        await type_text(pilot, "user.login")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.ledger.queues["audit_queue"].routed == 1, "the message routed")
        # The probe: the consumer's loop takes a crash request on its next turn and reports how many
        # messages it held. That turn came after the message was waiting for it, so "holding 0"
        # means the paused consumer saw it and did not take it (an unpaused one holds or acks it).
        await pilot.press("f3")
        await wait_for(pilot, lambda: worker.state == "crashed", "the probing crash")
        assert "holding 0 unacked" in worker.detail
        assert not [e for e in seen if isinstance(e, Delivered | Acked)]
        await pilot.press("f2")
        await settle(pilot)
        assert [(e.msg, e.queue) for e in seen if isinstance(e, Delivered)] == [("00000001", "audit_queue")]
        assert (worker.acked, app.ledger.fate("00000001")) == (1, {"audit_queue": "acked"})


async def test_crash_with_a_message_in_hand_redelivers_it() -> None:
    seen: list[FlowEvent] = []
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.frame_hooks.append(seen.extend)
        await wait_for(pilot, lambda: app.ledger.consumers["worker"].state == "idle", "worker idle")
        await pilot.press("f5")  # freeze: every broker action waits for a step
        await type_text(pilot, "user.login")
        await pilot.press("enter")
        await pilot.press("f6")  # one action: the publish
        # Delivered, the consumer holds the copy unacked and waits for the next step before working.
        await wait_for(pilot, lambda: any(isinstance(e, Delivered) for e in seen), "the delivery")
        await pilot.press("f3")
        assert app.engine.controls["worker"].crash_requested
        await pilot.press("f5")  # unfreeze: the handler starts, finds the crash request and crashes
        await settle(pilot)
        crashed = [e.detail for e in seen if isinstance(e, ConsumerState) and e.state == "crashed"]
        assert crashed == ["connection dropped holding 1 unacked message(s)"]
        requeued = [e for e in seen if isinstance(e, Requeued)]
        assert [(e.msg, e.queue) for e in requeued] == [("00000001", "audit_queue")]
        deliveries = [e for e in seen if isinstance(e, Delivered)]
        assert [(d.msg, d.redelivered) for d in deliveries] == [("00000001", False), ("00000001", True)]
        assert app.ledger.records["00000001"].redelivered
        assert app.ledger.fate("00000001") == {"audit_queue": "acked"}


async def test_fail_next_requeues_then_succeeds() -> None:
    seen: list[FlowEvent] = []
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.frame_hooks.append(seen.extend)
        await pilot.press("f4")
        await type_text(pilot, "user.login")
        await pilot.press("enter")
        await settle(pilot)
        rejected = [e for e in seen if isinstance(e, Rejected)]
        assert [(r.msg, r.action) for r in rejected] == [("00000001", "requeue")]
        assert any(isinstance(e, Requeued) and e.msg == "00000001" for e in seen)
        worker = app.ledger.consumers["worker"]
        assert (worker.requeued, worker.acked) == (1, 1)
        assert "FAILED [00000001]" in _log_text(app)


async def test_hostile_keys_publish_and_render_literally() -> None:
    hostile = ["[@click=app.quit]", "a.[/]", "[red]x"]
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        for key in hostile:
            await type_text(pilot, key)
            await pilot.press("enter")
            await pilot.press("ctrl+u")
        await settle(pilot)
        assert app.is_running
        assert [r.routing_key for r in app.ledger.records.values()] == hostile
        log = _log_text(app)
        for key in hostile:
            assert f"SENDING [{'0000000' + str(hostile.index(key) + 1)}] {key!r}" in log
        await type_text(pilot, hostile[0])
        assert "#=[@click=app.quit]" in _plain(app, "#matches")
        await pilot.press("f1")
        assert "[red]x" in _plain(app, "#inspector-body")


async def test_key_over_255_bytes_is_refused_in_place() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.screen.query_one("#routing-key", Input).value = "é" * 128  # 256 bytes in UTF-8
        await pilot.press("enter")
        await pilot.pause()
        problem = app.screen.query_one("#lens-problem", Static)
        assert "256 bytes" in _plain(app, "#lens-problem")
        assert problem.has_class("-error")
        app.screen.query_one("#routing-key", Input).value = "ok"
        app.screen.query_one("#message-body", Input).value = '{"file": '
        await pilot.press("enter")
        await pilot.pause()
        assert "JSON field" in _plain(app, "#lens-problem")
        await _publish_ok_and_settle(app, pilot)


async def test_pause_all_then_step_one_action_at_a_time() -> None:
    seen: list[FlowEvent] = []
    app = make_app(_seed_working(0.0), play_script=False)  # no work: nothing but the gate delays an ack
    async with app.run_test(size=(120, 36)) as pilot:
        app.frame_hooks.append(seen.extend)
        worker = app.ledger.consumers["worker"]
        await wait_for(pilot, lambda: worker.state == "idle", "worker idle")
        await pilot.press("f5")
        assert app.engine.gate.paused
        await type_text(pilot, "user.login")
        await pilot.press("enter")
        await pilot.press("f6")  # one action: the publish
        await wait_for(pilot, lambda: app.ledger.published == 1, "the stepped publish")
        await wait_for(pilot, lambda: any(isinstance(e, Delivered) for e in seen), "the delivery")
        # Unfrozen, a zero-work consumer acks right after `delivered`; frozen, it holds the copy.
        assert (worker.current, worker.acked, app.engine.unacked_for("audit_queue")) == ("00000001", 0, 1)
        await pilot.press("f6")  # one more action: the consumer handles its copy
        await wait_for(pilot, lambda: worker.acked == 1, "the stepped ack")
        assert app.engine.gate.paused
        assert [type(e).__name__ for e in seen if e.msg == "00000001"] == [
            "Published",
            "Routed",
            "Delivered",
            "Acked",
        ]
        await pilot.press("f5")
        await settle(pilot)


async def test_speed_controls_and_burst() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("f7")
        assert app.engine.clock.speed == 2.0
        await pilot.press("f8", "f8", "f8")
        assert app.engine.clock.speed == 4.0
        await type_text(pilot, "video.burst")
        app.action_burst(10)
        await settle(pilot)
        assert app.ledger.queues["video_queue"].acked == 10


async def test_event_log_in_a_burst_repaints_at_most_once_per_slot_and_shows_the_last_line() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        log = app.screen.query_one(EventLog)
        await settle(pilot)
        burst = [
            Published(msg=f"m{n}", exchange="media_exchange", routing_key="video.upload", body={})
            for n in range(40)
        ]
        log.add_events(burst)
        log.add_events(burst)  # a second burst frame within the same repaint slot waits for it
        assert log._grow_timer is not None
        await wait_for(pilot, lambda: log._grow_timer is None, "the deferred repaint")
        await pilot.pause()
        assert log.virtual_size.height == len(log.plain_lines())
        assert log.scroll_y == log.max_scroll_y  # following: the newest line is in view
        assert log.plain_lines()[-1].startswith("… burst: 28 more events")


async def test_reset_and_switch_scenario_start_fresh_sessions() -> None:
    app = make_app("seed")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        first, first_workers = app.engine, app.engine_workers
        await app.restart(first.scenario)
        assert app.engine is not first and app.ledger.published == 0
        assert first_workers is not None and not first_workers.running, "the old session's loops live on"
        assert app.engine_workers is not first_workers
        await settle(pilot)
        assert app.ledger.published == 2  # the script played once, in the new session only
        await app.switch_scenario("dead_letter")
        assert app.engine.scenario.name == "dead_letter"
        assert set(app.ledger.queues) == {"orders_queue", "shipping", "orders_dead"}
        await wait_for(pilot, lambda: app.ledger.published >= 1, "the dead_letter script")
        assert app.screen.query_one("#routing-key").has_focus


async def test_quit_while_mid_message_stops_every_worker() -> None:
    app = make_app(_seed_working(3600.0), play_script=False)  # mid-message until stopped
    async with app.run_test(size=(120, 36)) as pilot:
        await type_text(pilot, "video.upload")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.ledger.consumers["worker"].state == "working", "working")
        workers = app.engine_workers
        assert workers is not None and workers.running
        await pilot.press("ctrl+q")
    assert workers.join(timeout=5.0), "a broker loop kept running after quit"
    assert app.return_code == 0


async def test_clicking_a_queue_box_opens_the_inspector_on_it() -> None:
    app = make_app("seed")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        canvas = app.screen.query_one(DiagramCanvas)
        box = next(b for b in canvas.layout_geometry.boxes() if b.name == "video_queue")
        scroll = canvas.scroll_offset
        await pilot.click(canvas, offset=(box.x + 2 - scroll.x, box.y + 1 - scroll.y))
        await pilot.pause()
        inspector = app.screen.query_one("#inspector")
        assert inspector.display and inspector.target == ("queue", "video_queue")
        assert "routed here" in _plain(app, "#inspector-body")
        await pilot.press("escape")
        assert not inspector.display


async def test_scenario_picker_switches_to_the_chosen_scenario() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.screen.query_one(DiagramCanvas).focus()  # ctrl+o is text while typing in the lens
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ScenarioPicker), "the picker")
        downs = ["down"] * builtin_names().index("dead_letter")  # the picker lists them alphabetically
        await pilot.press("home", *downs, "enter")
        await wait_for(pilot, lambda: app.engine.scenario.name == "dead_letter", "the switch")
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the new session")
        assert isinstance(app.screen, SessionScreen)


async def test_headers_exchange_lens_reads_the_json_field_as_headers() -> None:
    app = make_app("headers", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        app.screen.query_one("#message-body", Input).value = '{"format": "pdf", "type": "report"}'
        await pilot.pause()
        matches = _plain(app, "#matches")
        assert "-> any_pdf_or_log, pdf_reports" in matches
        app.screen.query_one("#routing-key", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
        record = app.ledger.records["00000001"]
        assert record.headers == {"format": "pdf", "type": "report"}
        assert record.queues == ("any_pdf_or_log", "pdf_reports")


async def test_an_unreachable_broker_is_reported_in_one_line_not_a_crash() -> None:
    engine = Engine(load_scenario("seed"), "amqp://guest:secret@127.0.0.1:1//", speed=4)
    app = MqscopeApp(engine)
    app.animation_level = "none"
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "error", "the error status")
        assert app.is_running
        assert "secret" not in app.ledger.broker.url and "secret" not in app.ledger.broker.detail
        assert "refused" in app.ledger.broker.detail.lower()


async def test_theme_and_palette_controls_are_reachable() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Theme", "Crash worker", "Speed 0.25x", "Burst 1000", "Reset", "Switch scenario"):
            assert wanted in titles
        app.screen.query_one(DiagramCanvas).focus()
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "theme picker")


async def test_hostile_json_and_unencodable_keys_are_refused_in_place() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        key_input = app.screen.query_one("#routing-key", Input)
        body = app.screen.query_one("#message-body", Input)
        key_input.value = "video.x"
        body.value = "[" * 100_000
        await pilot.press("enter")
        await pilot.pause()
        assert "JSON field" in _plain(app, "#lens-problem")
        body.value = ""
        key_input.value = "bad\udcff"  # a lone surrogate, as a broken paste can produce
        assert key_input.value == "bad\\udcff"  # shown as its escape: what the input shows is sent
        await _publish_ok_and_settle(app, pilot)


async def test_the_picker_opens_a_file_of_ones_own_and_says_what_is_wrong_with_a_bad_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    mine = tmp_path / "mine.toml"
    mine.write_text(
        '[scenario]\nname = "mine"\n\n[[exchanges]]\nname = "x"\ntype = "fanout"\n\n'
        '[[queues]]\nname = "only_q"\nbindings = [{ exchange = "x" }]\n'
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"queues": [')
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        for path, name in ((broken, "seed"), (tmp_path / "absent.toml", "seed"), (mine, "mine")):
            app.action_pick_scenario()
            await wait_for(pilot, lambda: bool(app.screen.query("#path")), "the picker's path field")
            app.screen.query_one("#path", Input).focus()
            await type_text(pilot, str(path))
            await pilot.press("enter")
            if name == "seed":  # refused: said in one line, naming the file, and the session goes on
                said = lambda p=path: [n.message for n in app._notifications if p.name in n.message]  # noqa: E731
                await wait_for(pilot, lambda s=said: bool(s()), f"what is wrong with {path.name}")
                assert len(said()) == 1 and "\n" not in said()[0], said()
                assert path is not broken or "line 1" in said()[0], said()
            await wait_for(pilot, lambda n=name: app.engine.scenario.name == n, f"scenario {name}")
            assert isinstance(app.screen, SessionScreen)
        await wait_for(pilot, lambda: set(app.ledger.queues) == {"only_q"}, "the file's topology")
