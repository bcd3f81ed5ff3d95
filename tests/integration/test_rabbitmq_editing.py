"""An edit made in the app reaches the real RabbitMQ: a queue added and bound with the form exists on
the broker and takes what the exchange routes to it; undo deletes it there again."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from amqp.exceptions import NotFound
from engine_runner import reset_rabbit
from kombu import Connection, Exchange, Producer
from rabbit_support import RabbitBroker
from textual.widgets import Input, Select

from core.engine import Engine
from topology_while_flowing import seed_without_work
from tui.app import MqscopeApp
from tui.editing.form import EditForm

pytestmark = pytest.mark.rabbitmq
WAIT = 30.0


async def _until(pilot: object, condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)  # type: ignore[attr-defined]


def _queue_exists(url: str, name: str) -> bool:
    with Connection(url) as conn:
        try:
            conn.channel().queue_declare(queue=name, passive=True)
        except NotFound:
            return False
    return True


def _route_through_rabbit(url: str, exchange: str, key: str, queue: str) -> bytes | None:
    """Publish with a connection of the test's own and take what lands in `queue` (RabbitMQ routed it)."""
    with Connection(url) as conn:
        channel = conn.channel()
        Producer(channel).publish(
            b"probe", exchange=Exchange(exchange, type="topic"), routing_key=key, declare=[]
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = channel.basic_get(queue, no_ack=True)
            if message is not None:
                return bytes(message.body)
            time.sleep(0.05)
    return None


def test_a_queue_added_in_the_app_is_declared_and_bound_on_rabbitmq_and_undo_deletes_it(
    rabbit: RabbitBroker,
) -> None:
    prefix = f"e{uuid.uuid4().hex[:6]}."
    scenario = seed_without_work(prefix)
    exchange, reports = prefix + "media_exchange", prefix + "reports"
    reset_rabbit(rabbit.url, scenario.topology)
    app = MqscopeApp(Engine(scenario, rabbit.url, speed=4.0), play_script=False)
    app.animation_level = "none"

    async def drive() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, lambda: app.ledger.broker.state == "connected", "RabbitMQ")
            for n in range(20):  # messages flow through the broker while the edit is made
                app.engine.publish(exchange, f"video.{n}")
            app.session_screen.editor.add("queue")
            await _until(pilot, lambda: isinstance(app.screen, EditForm) and app.screen._armed, "the form")
            form = app.screen
            form.query_one("#name", Input).value = reports
            form.query_one("#exchange", Select).value = exchange
            form.query_one("#routing_key", Input).value = "report.*"
            await pilot.pause()
            assert isinstance(form, EditForm) and form.problem is None
            form.action_save()
            await _until(
                pilot, lambda: app.ledger.topology.queue(reports) is not None, "the change to be made"
            )
            assert _queue_exists(rabbit.url, reports)
            assert (
                await asyncio.to_thread(_route_through_rabbit, rabbit.url, exchange, "report.daily", reports)
                == b"probe"
            )

            app.session_screen.editor.undo()
            await _until(pilot, lambda: app.ledger.topology.queue(reports) is None, "undo to be made")
            assert not _queue_exists(rabbit.url, reports)
            await _until(pilot, lambda: app.ledger.quiet(), "the flowing messages to settle")

    try:
        asyncio.run(drive())
    finally:
        with Connection(rabbit.url) as conn:
            conn.channel().queue_delete(reports)
        reset_rabbit(rabbit.url, scenario.topology)


def test_queue_arguments_and_an_exchange_to_exchange_binding_made_in_the_app_reach_rabbitmq(
    rabbit: RabbitBroker,
) -> None:
    prefix = f"a{uuid.uuid4().hex[:6]}."
    scenario = seed_without_work(prefix)
    exchange, urgent, hub = prefix + "media_exchange", prefix + "urgent", prefix + "hub"
    reset_rabbit(rabbit.url, scenario.topology)
    app = MqscopeApp(Engine(scenario, rabbit.url, speed=4.0), play_script=False)
    app.animation_level = "none"

    async def form(pilot: object) -> EditForm:
        await _until(pilot, lambda: isinstance(app.screen, EditForm) and app.screen._armed, "the form")
        assert isinstance(app.screen, EditForm)
        return app.screen

    async def drive() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, lambda: app.ledger.broker.state == "connected", "RabbitMQ")
            app.session_screen.editor.add("queue")
            queue_form = await form(pilot)
            queue_form.query_one("#name", Input).value = urgent
            queue_form.query_one("#exchange", Select).value = exchange
            queue_form.query_one("#routing_key", Input).value = "report.*"
            queue_form.query_one("#arguments", Input).value = '{ "x-max-priority" = 10 }'
            await pilot.pause()
            assert queue_form.problem is None
            queue_form.action_save()
            await _until(pilot, lambda: app.ledger.topology.queue(urgent) is not None, "the queue")
            listed = json.loads(rabbit.ctl("list_queues", "name", "arguments", "--formatter", "json"))
            (row,) = [r for r in listed if r["name"] == urgent]
            assert {name: value for name, _type, value in row["arguments"]} == {"x-max-priority": 10}

            app.session_screen.editor.add("exchange")
            exchange_form = await form(pilot)
            exchange_form.query_one("#name", Input).value = hub
            exchange_form.query_one("#type", Select).value = "fanout"
            await pilot.pause()
            exchange_form.action_save()
            await _until(pilot, lambda: app.ledger.topology.exchange(hub) is not None, "the exchange")
            app.session_screen.editor.add("binding")
            binding_form = await form(pilot)
            binding_form.query_one("#exchange", Select).value = hub
            binding_form.query_one("#queue", Select).value = ("exchange", exchange)
            await pilot.pause()
            assert binding_form.problem is None
            binding_form.action_save()
            await _until(
                pilot,
                lambda: bool(app.ledger.topology.exchange(exchange).bindings),  # type: ignore[union-attr]
                "the exchange-to-exchange binding",
            )
            # RabbitMQ routes hub -> media_exchange -> urgent
            got = await asyncio.to_thread(_route_through_rabbit, rabbit.url, hub, "report.daily", urgent)
            assert got == b"probe"
            app.session_screen.editor.undo()
            await _until(
                pilot,
                lambda: not app.ledger.topology.exchange(exchange).bindings,  # type: ignore[union-attr]
                "undo of the binding",
            )

    try:
        asyncio.run(drive())
    finally:
        with Connection(rabbit.url) as conn:
            conn.channel().queue_delete(urgent)
            conn.channel().exchange_delete(hub)
        reset_rabbit(rabbit.url, scenario.topology)
