"""Observe mode on a real RabbitMQ: a separate kombu producer and consumer (their own connections)
do their work; observe shows every message's real path, agrees with what that consumer received, and
takes nothing (the consumer gets every message; the exchange and queue lists are the same after).
--trace-on turns tracing on for the session and off again at exit, Ctrl+C included; in the TUI,
Enter in observe and tap mode is refused in place."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Consumer, Exchange, Message, Producer, Queue
from rabbit_support import RabbitBroker
from textual.widgets import Static

from core.engine import Engine
from core.events import Acked, BrokerStatus, Delivered, FlowEvent, Notice, Published, Routed
from core.management import ManagementClient
from core.observe.loop import TRACE_QUEUE_LIMIT, ObserveSpec, observe_scenario
from core.runner import LoopRunner
from core.scenario import load_scenario
from core.tap import TapSpec, tap_scenario
from tui.app import MqscopeApp
from tui.testing import publish, wait_for
from tui.widgets.key_bar import KeyBar

pytestmark = pytest.mark.rabbitmq
ROOT = Path(__file__).resolve().parents[2]
KEYS = ["video.upload", "user.login", "video.edit", "audit.only"]
EXPECTED = {"video.upload": ("obs_audit", "obs_video"), "video.edit": ("obs_audit", "obs_video")}


def until(condition: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def names(client: ManagementClient) -> tuple[list[str], list[str]]:
    """The vhost's exchanges and queues (mqscope's own trace queue is exclusive: amq.gen-...)."""
    exchanges = sorted(e["name"] for e in client.exchanges("/"))
    queues = sorted(q["name"] for q in client.queues("/"))
    return exchanges, queues


@pytest.fixture
def management(rabbit: RabbitBroker, management_url: str) -> ManagementClient:
    return ManagementClient.for_broker(rabbit.url, management_url)


@pytest.fixture
def traced(rabbit: RabbitBroker) -> Iterator[None]:
    rabbit.ctl("trace_on", "-p", "/")
    try:
        yield
    finally:
        rabbit.ctl("trace_off", "-p", "/")


@pytest.fixture
def system(rabbit: RabbitBroker) -> Iterator[Exchange]:
    """The watched system, declared by a kombu client of its own: a topic exchange and two queues."""
    exchange = Exchange("obs_x", "topic", durable=False)
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        exchange(channel).declare()
        for name, key in (("obs_video", "video.#"), ("obs_audit", "#")):
            channel.queue_delete(name)
            Queue(name, exchange, routing_key=key, durable=False)(channel).declare()
    yield exchange
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        for name in ("obs_video", "obs_audit"):
            channel.queue_delete(name)
        channel.exchange_delete("obs_x")


def test_observe_shows_the_real_path_agrees_with_the_consumer_and_takes_nothing(
    rabbit: RabbitBroker, management: ManagementClient, traced: None, system: Exchange
) -> None:
    before = names(management)
    engine = Engine(observe_scenario(None, rabbit.url), rabbit.url)
    engine.observe = ObserveSpec(management)
    seen: list[FlowEvent] = []

    def drain() -> None:
        seen.extend(engine.events.drain())

    runner = LoopRunner(on_error=engine.report_failure)
    engine.start(runner)
    received: list[tuple[int, str]] = []
    try:
        until(
            lambda: drain() or any(isinstance(e, BrokerStatus) and e.state == "connected" for e in seen),
            "observe",
        )
        during = names(management)
        assert during[0] == before[0]
        assert [q for q in during[1] if q not in before[1]] == [
            n for n in during[1] if n.startswith("amq.gen-")
        ]
        own = [q for q in management.queues("/") if q["name"] not in before[1]]
        assert [(q["exclusive"], q["auto_delete"], q["arguments"]) for q in own] == [
            (True, True, {"x-max-length": TRACE_QUEUE_LIMIT})
        ]
        count = 40
        with Connection(rabbit.url) as producing, Connection(rabbit.url) as consuming:

            def got_from(queue: str) -> Callable[[Any, Message], None]:
                def got(body: Any, message: Message) -> None:
                    received.append((body["n"], queue))
                    message.ack()

                return got

            consumers = [
                Consumer(
                    consuming.channel(),
                    queues=[Queue(q, no_declare=True)],
                    callbacks=[got_from(q)],
                    prefetch_count=5,
                )
                for q in ("obs_video", "obs_audit")
            ]
            for consumer in consumers:
                consumer.consume()
            producer = Producer(producing.channel(), serializer="json")
            for n in range(count):
                producer.publish({"n": n}, exchange=system, routing_key=KEYS[n % len(KEYS)])
            copies = sum(len(EXPECTED.get(KEYS[n % len(KEYS)], ("obs_audit",))) for n in range(count))
            deadline = time.monotonic() + 30
            while len(received) < copies and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    consuming.drain_events(timeout=0.1)
            assert len(received) == copies, "the consumer must receive every copy: observe took none"
        until(lambda: drain() or sum(isinstance(e, Acked) for e in seen) >= copies, "every copy settled")
    finally:
        runner.shutdown()
    runner.raise_first_error()
    drain()
    body = {e.msg: e.body["n"] for e in seen if isinstance(e, Published)}
    routed = {body[e.msg or ""]: e.queues for e in seen if isinstance(e, Routed)}
    assert routed == {n: EXPECTED.get(KEYS[n % len(KEYS)], ("obs_audit",)) for n in range(count)}
    shown = sorted((body[e.msg or ""], e.queue) for e in seen if isinstance(e, Delivered))
    assert shown == sorted(received)
    acked = sorted((body[e.msg or ""], e.queue) for e in seen if isinstance(e, Acked))
    assert acked == sorted(received)
    assert not [e for e in seen if isinstance(e, Notice) and e.level == "warning"]
    assert not [e for e in seen if isinstance(e, Delivered) and e.queue.startswith("amq.gen-")]
    until(lambda: names(management) == before, "the exchange and queue lists as before", timeout=15)


def _observe_cli(rabbit: RabbitBroker, management_url: str, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "tui", "--headless", "--observe", "--broker", rabbit.url]
    return subprocess.Popen(
        [*argv, "--management", management_url, *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_tracing_off_is_said_with_how_to_turn_it_on(
    rabbit: RabbitBroker, management: ManagementClient, management_url: str
) -> None:
    rabbit.ctl("trace_off", "-p", "/")
    run = _observe_cli(rabbit, management_url, "--timeout", "2")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert "tracing is off for vhost /" in out and "rabbitmqctl trace_on -p /" in out
    assert management.tracing("/") is False


@pytest.mark.parametrize("ending", ["timeout", "ctrl+c"])
def test_trace_on_turns_tracing_on_for_the_session_and_off_at_exit(
    rabbit: RabbitBroker, management: ManagementClient, management_url: str, ending: str
) -> None:
    rabbit.ctl("trace_off", "-p", "/")
    timeout = "8" if ending == "timeout" else "120"
    run = _observe_cli(rabbit, management_url, "--trace-on", "--timeout", timeout)
    try:
        until(lambda: management.tracing("/") or run.poll() is not None, "tracing on")
        assert management.tracing("/") is True
        if ending == "ctrl+c":
            run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert management.tracing("/") is False, (out, err)
    assert "tracing turned on for vhost /" in out and "tracing turned off again for vhost /" in out
    assert run.returncode == (0 if ending == "timeout" else 130), err
    assert "Traceback" not in err


def test_trace_on_leaves_tracing_someone_else_turned_on(
    rabbit: RabbitBroker, management: ManagementClient, management_url: str, traced: None
) -> None:
    run = _observe_cli(rabbit, management_url, "--trace-on", "--timeout", "2")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert management.tracing("/") is True
    assert "tracing turned" not in out


@pytest.fixture
def media_exchange(rabbit: RabbitBroker) -> Iterator[Exchange]:
    """The seed scenario's exchange, declared on the broker by a client of its own (tap checks it).
    Earlier tests on the same node may have left a durable one behind: it is replaced."""
    exchange = Exchange("media_exchange", "topic", durable=False)
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        channel.exchange_delete("media_exchange")
        exchange(channel).declare()
    yield exchange
    with Connection(rabbit.url) as conn:
        conn.channel().exchange_delete("media_exchange")


@pytest.mark.parametrize("mode", ["observe", "tap"])
async def test_enter_in_observe_and_tap_mode_is_refused_in_place(
    rabbit: RabbitBroker, management_url: str, traced: None, media_exchange: Exchange, mode: str
) -> None:
    seed = load_scenario("seed")
    if mode == "observe":
        engine = Engine(observe_scenario(seed, rabbit.url), rabbit.url)
        engine.observe = ObserveSpec(ManagementClient.for_broker(rabbit.url, management_url))
        where = "observe mode only watches amqp://guest:***@127.0.0.1"
    else:
        spec = TapSpec("media_exchange", "topic")
        engine = Engine(tap_scenario(spec, seed), rabbit.url)
        engine.tap = spec
        where = "tap mode only watches media_exchange on amqp://guest:***@127.0.0.1"
    app = MqscopeApp(engine, play_script=False)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "connected")
        footer = {item.action for item in app.screen.query_one(KeyBar).items()[0]}
        assert footer.isdisjoint({"pause_consumer", "crash_consumer", "fail_next", "burst(100)"}), footer
        assert {"toggle_pause_all", "step", "inspect_last"} <= footer, footer  # watching keys stay
        hint = str(app.screen.query_one("#lens-problem", Static).render())
        assert hint.startswith("watching: Enter publishes nothing"), hint  # said before Enter is tried
        with pytest.raises(AssertionError) as refused:
            await publish(pilot, "video.upload")
        problem = str(app.screen.query_one("#lens-problem", Static).render())
        assert problem.startswith(where) and problem.endswith("it publishes nothing"), problem
        assert "guest:guest" not in str(refused.value) and engine.ids.issued == 0
        with Connection(rabbit.url) as conn:  # someone else's publish is what the diagram shows
            Producer(conn.channel(), serializer="json").publish(
                {"n": 1}, exchange=media_exchange, routing_key="video.upload"
            )
        await wait_for(pilot, lambda: app.ledger.published == 1, "the other client's message")


async def test_trace_on_in_the_app_is_turned_off_again_when_it_quits(
    rabbit: RabbitBroker, management: ManagementClient, management_url: str
) -> None:
    rabbit.ctl("trace_off", "-p", "/")
    engine = Engine(observe_scenario(None, rabbit.url), rabbit.url)
    engine.observe = ObserveSpec(ManagementClient.for_broker(rabbit.url, management_url), trace_on=True)
    app = MqscopeApp(engine, play_script=False)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "connected")
        assert management.tracing("/") is True
        await pilot.press("ctrl+q")
    assert management.tracing("/") is False


def test_observe_without_a_scenario_names_the_real_consumer_as_discovery_does(
    rabbit: RabbitBroker, management: ManagementClient, management_url: str, traced: None, system: Exchange
) -> None:
    received: list[int] = []
    with Connection(rabbit.url) as conn:
        channel = conn.channel()

        def got(body: Any, message: Message) -> None:
            received.append(body["n"])
            message.ack()

        consumer = Consumer(channel, queues=[Queue("obs_video", no_declare=True)], callbacks=[got])
        consumer.consume()
        until(lambda: any(c["queue"]["name"] == "obs_video" for c in management.consumers("/")), "consumer")
        tags = {c["consumer_tag"] for c in management.consumers("/") if c["queue"]["name"] == "obs_video"}
        run = _observe_cli(rabbit, management_url, "--json", "--timeout", "15")
        try:
            assert run.stdout is not None
            lines = []
            while not any("observing vhost" in line for line in lines[-1:]):
                lines.append(run.stdout.readline())
                assert lines[-1], "observe ended before it connected"
            producer = Producer(conn.channel(), serializer="json")
            for n in range(3):
                producer.publish({"n": n}, exchange=system, routing_key="video.upload")
            deadline = time.monotonic() + 20
            while len(received) < 3 and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=0.1)
            rest, err = run.communicate(timeout=60)
            out = "".join(lines) + rest
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    delivered = [e for e in events if e["event"] == "delivered" and e["queue"] == "obs_video"]
    assert len(delivered) == 3 and sorted(received) == [0, 1, 2]
    assert {e["consumer"] for e in delivered} == tags, (delivered, tags)  # as discovery names it


async def test_reset_in_observe_mode_keeps_observing_and_declares_nothing(
    rabbit: RabbitBroker, management: ManagementClient, management_url: str, traced: None
) -> None:
    before = names(management)
    seed = load_scenario("seed")
    engine = Engine(observe_scenario(seed, rabbit.url), rabbit.url)
    engine.observe = ObserveSpec(ManagementClient.for_broker(rabbit.url, management_url))
    app = MqscopeApp(engine, play_script=False)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "connected")
        first = app.engine
        app.action_reset()
        await wait_for(pilot, lambda: app.engine is not first, "the reset")
        await wait_for(pilot, lambda: app.ledger.broker.state == "connected", "observing again")
        assert app.engine.observe is first.observe
        await app.switch_scenario("dead_letter")
        assert app.engine.scenario.name == "seed"
    until(lambda: names(management) == before, "the exchange and queue lists as before", timeout=15)
