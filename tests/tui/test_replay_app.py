"""--replay in the app (pilot): frozen, each F6 lets one message or topology event through and the
diagram follows the recorded edits as they come; F7/F8 set the speed the replay reads; F5 plays the
rest; the canvas, the ledger and the inspector then hold the recorded copies, the status line says
it is a replay of what, and Enter in the lens is refused in place."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from textual.widgets import Input, Static

from core.events import FlowEvent
from core.recording import Recorder, Recording, header
from core.replay import ReplayEngine, steps_on
from core.text import json_line
from recording_support import record_dead_letter
from tui.app import MqscopeApp
from tui.testing import make_app, publish, settle, wait_for
from tui.widgets.inspector import message_text
from tui.widgets.status_line import status_text


async def test_a_replay_steps_plays_and_shows_the_recorded_copies(tmp_path: Path) -> None:
    path = tmp_path / "dead_letter.jsonl"
    live = [json.loads(line) for line in record_dead_letter(path).splitlines()]
    engine = ReplayEngine(Recording(str(path)), speed=1.0)
    engine.gate.pause()  # frozen from the first event: F6 steps
    app = MqscopeApp(engine, play_script=False)
    app.animation_level = "none"
    seen: list[FlowEvent] = []

    def frame(events: Sequence[FlowEvent]) -> None:
        seen.extend(events)

    app.frame_hooks.append(frame)
    source = engine.source
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.session_screen
        status = status_text(screen.status.facts).plain if screen.status.facts else ""
        assert f"REPLAY {path.name}: dead_letter" in status

        # Step until the recorded edit declares the audit exchange: one event per F6.
        for step in range(1, 200):
            await pilot.press("f6")
            await wait_for(pilot, lambda step=step: source.steps_played == step, f"step {step}")
            await wait_for(pilot, lambda step=step: sum(map(steps_on, seen)) == step, f"frame {step}")
            if screen.canvas.topology.exchange("audit") is not None:
                break
        assert "audit" in screen.canvas.layout_geometry.exchanges  # drawn as soon as it is declared
        assert engine.gate.paused and source.steps_played == sum(map(steps_on, seen))

        await pilot.press("f7")  # 0.5x: the replay reads the app's own clock
        assert source.clock is engine.clock and engine.clock.speed == 0.5
        await pilot.press("f8", "f8", "f8")
        assert engine.clock.speed == 4.0

        lens_key = app.screen.query_one("#routing-key", Input)
        lens_key.value = "order.created"
        lens_key.focus()
        await pilot.press("enter")
        problem = app.screen.query_one("#lens-problem", Static).render()
        assert str(problem).startswith(f"a replay publishes and changes nothing: it plays {path}")

        await pilot.press("f5")  # resume: the rest at 4x
        await wait_for(pilot, source.finished.is_set, "the end of the recording")
        await wait_for(pilot, lambda: any("ended:" in str(getattr(e, "text", "")) for e in seen), "its end")

        assert screen.canvas.topology.exchange("audit") is None  # deleted again, as recorded
        played = [e.to_json() for e in seen]
        for event in played + live:
            event.pop("ts")
        assert played[:-1] == live  # the same events in the same order, then the replay's end notice
        assert played[-1]["text"] == f"replay of {path} ended: {len(live)} events played"

        ledger = app.ledger
        assert ledger.published == sum(e["event"] == "published" for e in live)
        assert screen.canvas.ledger.queues["orders_dead"].acked == ledger.queues["orders_dead"].acked > 0
        (rejected,) = [e["msg"] for e in live if e["event"] == "dead_lettered" and e["reason"] == "rejected"]
        text = message_text(ledger.records[rejected]).plain
        assert "orders_queue: dead-lettered (rejected)" in text and "orders_dead: acked" in text
        screen.inspect("message", rejected)
        await pilot.pause()
        shown = app.screen.query_one("#inspector-body", Static).render()
        assert "dead-lettered (rejected)" in str(shown)


async def test_the_app_records_what_it_shows_across_a_reset(tmp_path: Path) -> None:
    """--record in the app: the file holds exactly the batches the app drew, and a reset's new
    engine is recorded into the same file; replayed, F2 says why nobody can be paused."""
    path = tmp_path / "seed.jsonl"
    app = make_app("seed", play_script=False)
    scenario = app.engine.scenario
    recorder = Recorder(
        str(path),
        header(
            broker=app.engine.backend.display_url(),
            scenario=scenario.name,
            title=scenario.title,
            topology=app.engine.topology,
            mode="scenario",
        ),
    )
    recorder.tee(app.engine.events)
    seen: list[FlowEvent] = []
    app.frame_hooks.append(seen.extend)
    async with app.run_test(size=(120, 40)) as pilot:
        first = await publish(pilot, "video.upload")
        await settle(pilot)
        await pilot.press("f10")
        await wait_for(pilot, lambda: app.ledger.published == 0 and app.engine.declared.is_set(), "the reset")
        second = await publish(pilot, "user.login")
        await settle(pilot)
    recorder.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines[1:]] == [json.loads(json_line(e.to_json())) for e in seen]
    published = [json.loads(line)["msg"] for line in lines if '"event": "published"' in line]
    assert published == [first, second]

    replay = MqscopeApp(ReplayEngine(Recording(str(path)), speed=4.0), play_script=False)
    notices: list[str] = []
    replay.notify = lambda message, **_kw: notices.append(message)  # type: ignore[method-assign,assignment]
    async with replay.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        assert notices == [
            f"a replay publishes and changes nothing: it plays {path} (recorded on mqscope://localhost)"
        ]
        first_run = replay.engine
        assert isinstance(first_run, ReplayEngine)
        await wait_for(pilot, first_run.source.finished.is_set, "the first play")
        await pilot.press("f10")  # plays it again from the start
        await wait_for(pilot, lambda: replay.engine is not first_run, "the reset")
        again = replay.engine
        assert isinstance(again, ReplayEngine) and again.recording.path == str(path)
        await wait_for(pilot, again.source.finished.is_set, "the second play")
        await wait_for(pilot, lambda: replay.ledger.published == 2, "both messages again")


async def test_a_lesson_is_recorded_with_its_steps_topology_changes(tmp_path: Path) -> None:
    """A lesson's later steps change the topology through the engine: the recording holds those
    changes, so what a replay folds ends on the topology the lesson showed."""
    from lesson_play import make_lesson_app, ready

    from core.ledger import Ledger
    from core.lesson import load_lesson

    path = tmp_path / "lesson.jsonl"
    lesson = load_lesson("direct")
    app = make_lesson_app("direct")
    engine = app.engine
    head = header(
        broker=engine.backend.display_url(),
        scenario=engine.scenario.name,
        title=engine.scenario.title,
        topology=engine.topology,
        mode="lesson",
    )
    recorder = Recorder(str(path), head)
    recorder.tee(engine.events)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("n", "n")
        await wait_for(pilot, lambda: app.engine.topology == lesson.steps[2].topology, "step 3's binding")
        await wait_for(pilot, lambda: app.ledger.topology == lesson.steps[2].topology, "drawn")
    recorder.close()
    recording = Recording(str(path))
    assert recording.header.topology == lesson.steps[0].topology
    replayed = Ledger(recording.header.topology)
    for line in recording.lines():
        event, skipped = line.event()
        assert not skipped
        replayed.feed(event)
    assert replayed.topology == lesson.steps[2].topology != lesson.steps[0].topology
