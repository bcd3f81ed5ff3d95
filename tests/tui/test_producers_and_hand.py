"""Pilot tests of producers (add, re-rate, remove) and of being the consumer (ack, requeue, reject,
drop by hand), each checked against the engine and the ledger, not against pixels."""

from __future__ import annotations

import dataclasses

from states import make_app, type_text, wait_for
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Static

from tui.widgets.hand_screen import HandScreen
from tui.widgets.producer_forms import ProducerForm, RateForm
from tui.widgets.status_line import StatusLine, status_text


def _problem(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.screen.query_one("#producer-problem", Static).render())


def _form_up(app, form: type) -> bool:  # type: ignore[no-untyped-def]
    """The form is on top and composed (its fields can be filled)."""
    return isinstance(app.screen, form) and bool(app.screen.query("#producer-rate"))


async def test_add_a_producer_from_the_palette_then_change_its_rate_then_remove_it() -> None:
    app = make_app("seed", play_script=False)
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await type_text(pilot, "Add producer")
        command_list = app.screen.query_one(CommandList)

        def first_hit() -> str:
            options = command_list.options
            return options[0].prompt.plain if options else ""  # type: ignore[union-attr]

        await wait_for(pilot, lambda: first_hit().startswith("Add producer\n"), "the palette's hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: _form_up(app, ProducerForm), "the producer form")
        app.screen.query_one("#producer-rate", Input).value = "5000"
        await type_text(pilot, "video.upload:3,user.login:1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "rate must be between" in _problem(app), "the refusal in place")
        assert isinstance(app.screen, ProducerForm) and app.engine.producers.names == []
        app.screen.query_one("#producer-rate", Input).value = "40"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ProducerForm), "the form to close")
        assert app.engine.producers.names == ["producer1"]
        spec = app.engine.producers.specs()["producer1"]
        assert (spec.exchange, spec.rate, spec.weighted) == ("media_exchange", 40.0, True)
        assert [(k.key, k.weight) for k in spec.keys] == [("video.upload", 3.0), ("user.login", 1.0)]
        await wait_for(pilot, lambda: app.ledger.published >= 20, "the producer's messages")
        keys = {r.routing_key for r in app.ledger.records.values()}
        assert keys <= {"video.upload", "user.login"} and "video.upload" in keys
        await wait_for(pilot, lambda: app.rates() is not None and app.rates()[0] > 0, "an offered rate")
        facts = app.screen.query_one(StatusLine).facts
        assert facts is not None and facts.rates is not None
        assert "/s offered, " in status_text(facts).plain

        app.screen.query_one("#canvas").focus()
        await pilot.press("minus")  # every producer half as fast
        assert app.engine.producers.specs()["producer1"].rate == 20.0
        await pilot.press("plus", "plus")
        assert app.engine.producers.specs()["producer1"].rate == 80.0

        app.action_producer_rate("producer1")
        await wait_for(pilot, lambda: _form_up(app, RateForm), "the rate form")
        rate_input = app.screen.query_one("#producer-rate", Input)
        rate_input.value = "0.05"
        rate_input.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not 0.05" in _problem(app), "the refusal in place")
        rate_input.value = "0.5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, RateForm), "the form to close")
        assert app.engine.producers.specs()["producer1"].rate == 0.5

        control = app.engine.producers.control("producer1")
        assert control is not None
        app.action_remove_producer("producer1")
        assert app.engine.producers.names == [] and control.retired.is_set()
        runner = app.engine_workers.runner  # type: ignore[union-attr]
        await wait_for(
            pilot, lambda: not any(n.startswith("producer:") for n in runner.running), "its loop to end"
        )


async def test_a_producer_added_with_headers_drives_the_headers_exchange() -> None:
    app = make_app("headers", play_script=False)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
        app.action_add_producer()
        await wait_for(pilot, lambda: _form_up(app, ProducerForm), "the producer form")
        headers = app.screen.query_one("#producer-headers", Input)
        headers.value = '["format", "pdf"]'
        await pilot.press("enter")
        await wait_for(pilot, lambda: "must be a JSON object" in _problem(app), "the refusal")
        headers.value = '{"format": "pdf", "n": NaN}'
        await pilot.press("enter")
        await wait_for(pilot, lambda: "headers.n" in _problem(app), "NaN refused in place")
        assert isinstance(app.screen, ProducerForm) and app.engine.producers.names == []
        headers.value = '{"format": "pdf", "type": "report"}'
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ProducerForm), "the form to close")
        assert dict(app.engine.producers.specs()["producer1"].headers) == {"format": "pdf", "type": "report"}
        await wait_for(pilot, lambda: app.ledger.published >= 2, "the producer's messages")
        await wait_for(
            pilot,
            lambda: all(r.queues is not None for r in app.ledger.records.values()),
            "them routed",
        )
        assert {tuple(sorted(r.queues or ())) for r in app.ledger.records.values()} == {
            ("any_pdf_or_log", "pdf_reports")
        }


async def test_the_backlog_scenario_runs_its_producers_and_a_worker_can_be_added() -> None:
    app = make_app("backlog")
    async with app.run_test(size=(150, 40)) as pilot:
        assert app.engine.producers.names == ["uploads", "logins"]
        await wait_for(pilot, lambda: app.ledger.queues["work_queue"].ready >= 3, "a backlog")
        app.action_add_worker("worker")
        await wait_for(
            pilot, lambda: app.ledger.consumers.get("worker-2") is not None
            and app.ledger.consumers["worker-2"].acked > 0, "the added worker's acks"
        )
        assert app.engine.topology.consumer("worker-2") is not None


async def test_you_are_the_consumer_ack_requeue_reject_and_drop_by_key() -> None:
    app = make_app("dead_letter", play_script=False)
    async with app.run_test(size=(150, 40)) as pilot:
        app.consumer = "billing"
        app.screen.query_one("#canvas").focus()
        await pilot.press("m")  # manual: the hand modal opens
        await wait_for(pilot, lambda: isinstance(app.screen, HandScreen), "the hand modal")
        control = app.engine.controls["billing"]
        assert control.manual.is_set()
        ids = [app.engine.publish("orders", "order.created", {"order": n}) for n in range(4)]
        acked, requeued, rejected, dropped = ids
        ledger = app.ledger

        async def decide(msg: str, key: str, *, redelivered: bool = False) -> None:
            def held() -> bool:
                record = ledger.records.get(msg)
                return control.holding == msg and record is not None and record.redelivered == redelivered

            await wait_for(pilot, held, f"{msg} in billing's hands")
            await pilot.press(key)

        await decide(acked, "a")
        await decide(requeued, "r")
        await decide(requeued, "a", redelivered=True)
        await decide(rejected, "x")
        await decide(dropped, "d")
        await wait_for(pilot, lambda: ledger.all_settled and ledger.published == 4, "all four settled")
        await wait_for(pilot, lambda: ledger.queues["orders_dead"].acked == 1, "the janitor's ack")
        assert ledger.fate(acked) == ledger.fate(requeued) == {"orders_queue": "acked"}
        assert ledger.fate(rejected) == {"orders_queue": "dead-lettered (rejected)"}
        assert ledger.fate(dropped) == {"orders_queue": "dropped by consumer"}
        billing = ledger.consumers["billing"]
        assert (billing.acked, billing.requeued, billing.dead_lettered, billing.dropped) == (2, 1, 1, 1)
        await pilot.press("m")  # automatic again: the modal closes, messages flow on their own
        await wait_for(pilot, lambda: not isinstance(app.screen, HandScreen), "the modal to close")
        assert not control.manual.is_set()


def test_the_status_line_says_offered_and_delivered_rates_shorter_when_narrow() -> None:
    from core.records import BrokerInfo
    from tui.widgets.status_line import StatusFacts

    facts = StatusFacts(
        scenario="backlog", broker=BrokerInfo("mqscope://localhost", "connected", True), speed=1.0,
        paused=False, consumer="worker", published=40, in_flight=12, rates=(3.04, 2.0),
    )
    assert "│ 3.0/s offered, 2.0/s delivered │" in status_text(facts).plain
    assert "│ 3.0/s in, 2.0/s out │" in status_text(facts, 110).plain
    assert "/s" not in status_text(dataclasses.replace(facts, rates=None)).plain


async def test_ctrl_q_quits_while_a_message_waits_in_a_manual_consumer_s_hands() -> None:
    app = make_app("dead_letter", play_script=False)
    async with app.run_test(size=(150, 40)) as pilot:
        app.engine.controls["billing"].manual.set()
        msg = app.engine.publish("orders", "order.created", {"order": 1})
        await wait_for(pilot, lambda: app.engine.controls["billing"].holding == msg, "the held message")
        app.action_hand("billing")
        await wait_for(pilot, lambda: isinstance(app.screen, HandScreen), "the hand window")
        await pilot.press("ctrl+q")
    assert app.return_code == 0
    assert app.engine_workers is not None and app.engine_workers.runner.running == []
