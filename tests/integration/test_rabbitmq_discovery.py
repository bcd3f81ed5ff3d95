"""Discovery and tap without a scenario on a real RabbitMQ with the management plugin: the topology a
separate kombu client declared (two vhosts, an exchange-to-exchange binding, a quorum queue, a policy,
a consumer of its own), a binding added mid-session, tapped copies routed to the real queues and
settled, nothing declared or left behind, and no password shown.

Each test works in vhosts of its own (named after the process and the test), made and deleted with
rabbitmqctl, so it cannot collide with the other tests on the same node.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from rabbit_support import ROOT, RabbitBroker

from core.backends import backend_for
from core.discovery import discovery_source, url_vhost
from core.engine import Engine, PublishError
from core.tap import TapSpec, tap_scenario
from tui.app import MqscopeApp
from tui.testing import wait_for
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.status_line import StatusLine, status_text

pytestmark = pytest.mark.rabbitmq

SECRET = "Disc0-s3cret/pw"
USER = f"mqscope-disc-{os.getpid()}"


@pytest.fixture
def vhost(rabbit: RabbitBroker, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh vhost for this test, the test user allowed in it; deleted afterwards."""
    name = f"mqscope-disc-{os.getpid()}-{request.node.name}"[:120]
    make_vhost(rabbit, name)
    try:
        yield name
    finally:
        rabbit.ctl("delete_vhost", name)


@pytest.fixture(scope="module")
def user(rabbit: RabbitBroker) -> Iterator[str]:
    """A user with a password worth hiding (administrator: it may read /api/definitions)."""
    rabbit.ctl("add_user", USER, SECRET)
    rabbit.ctl("set_user_tags", USER, "administrator")
    try:
        yield USER
    finally:
        rabbit.ctl("delete_user", USER)


def make_vhost(rabbit: RabbitBroker, name: str, who: str = "guest") -> None:
    rabbit.ctl("add_vhost", name)
    rabbit.ctl("set_permissions", "-p", name, who, ".*", ".*", ".*")


def url_for(rabbit: RabbitBroker, vhost: str, user: str = "guest", password: str = "guest") -> str:
    parts = urlsplit(rabbit.url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit(("amqp", netloc, "/" + quote(vhost, safe=""), "", ""))


def declare_shop(url: str) -> None:
    """The "existing system": declared by a separate kombu client, as an application would."""
    with Connection(url) as conn:
        channel = conn.channel()
        shop = Exchange("shop", "topic", durable=True)(channel)
        shop.declare()
        audit = Exchange("audit", "fanout", durable=True)(channel)
        audit.declare()
        audit.bind_to(shop, routing_key="orders.#")
        quorum = {"x-queue-type": "quorum"}
        Queue("orders", shop, routing_key="orders.*", queue_arguments=quorum)(channel).declare()
        Queue("audit_log", audit)(channel).declare()


def mqscope(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "--headless", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def read_until(stream: IO[str], seen: list[dict[str, Any]], wanted: Any) -> dict[str, Any]:
    """Read events until one satisfies `wanted` (the run's --timeout bounds the wait: at its end
    stdout closes, and the test fails with what it saw)."""
    for line in stream:
        event = json.loads(line)
        seen.append(event)
        if wanted(event):
            return event
    pytest.fail(f"never came: the run ended after {len(seen)} events: {seen[-5:]}")


def topology_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"exchange": {}, "queue": {}, "binding": set(), "consumer": {}}
    for e in events:
        if e["event"] != "topology" or e["op"] != "declare":
            continue
        if e["kind"] == "binding":
            out["binding"].add((e["source"], e["destination"], e["destination_type"], e["routing_key"]))
        else:
            out[e["kind"]][e["name"]] = e
    return out


def lists(rabbit: RabbitBroker, vhost: str) -> tuple[str, str, str]:
    """The vhost's exchanges, queues and bindings as rabbitmqctl lists them."""
    return (
        rabbit.ctl("list_exchanges", "-p", vhost, "name", "type", "durable", "arguments"),
        rabbit.ctl("list_queues", "-p", vhost, "name", "durable", "auto_delete", "arguments"),
        rabbit.ctl("list_bindings", "-p", vhost),
    )


def test_discovery_shows_the_vhost_as_it_is_and_touches_nothing(
    rabbit: RabbitBroker, management_url: str, vhost: str, user: str
) -> None:
    other = f"{vhost}-b"[:120]
    make_vhost(rabbit, other)
    rabbit.ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        # The policy first: /api/queues reports a queue's effective policy from the statistics
        # database, which learns of a later policy change at its next collection (5 s by default).
        rabbit.ctl(
            "set_policy", "-p", vhost, "--apply-to", "queues", "ttl", "^orders$", '{"message-ttl":60000}'
        )
        declare_shop(url_for(rabbit, vhost))
        with Connection(url_for(rabbit, other)) as conn:
            Queue("invoices", Exchange("billing", "direct"), routing_key="invoice")(conn.channel()).declare()
        before = lists(rabbit, vhost)
        with Connection(url_for(rabbit, vhost)) as conn:  # someone else's consumer, prefetch 3
            channel = conn.channel()
            channel.basic_qos(0, 3, False)
            Consumer(
                channel, [Queue("audit_log", no_declare=True)], tag_prefix="audit-", callbacks=[]
            ).consume()
            # The management API is asked with the broker URL's user and password (the default).
            # Consumers come from the statistics database, which learns of a new one within its
            # collection interval (5 s by default): a refresh brings it; --timeout bounds the wait.
            broker = url_for(rabbit, vhost, user, SECRET)
            run = mqscope(
                "--broker", broker, "--management", management_url, "--refresh", "0.5", "--timeout", "30"
            )
            assert run.stdout is not None
            events: list[dict[str, Any]] = []
            read_until(run.stdout, events, lambda e: e["event"] == "topology" and e["kind"] == "consumer")
            run.terminate()
            out, err = run.communicate(timeout=60)
        events += [json.loads(line) for line in out.splitlines()]
        found = topology_of(events)
        assert {n: e["type"] for n, e in found["exchange"].items()} == {"shop": "topic", "audit": "fanout"}
        assert set(found["queue"]) == {"orders", "audit_log"}
        orders = found["queue"]["orders"]["arguments"]
        assert orders["x-queue-type"] == "quorum" and orders["x-message-ttl"] == 60000  # the policy's
        assert found["binding"] == {
            ("shop", "audit", "exchange", "orders.#"),
            ("shop", "orders", "queue", "orders.*"),
            ("audit", "audit_log", "queue", ""),
        }
        [consumer] = found["consumer"].values()
        assert consumer["queues"] == ["audit_log"] and consumer["prefetch"] == 3
        assert (consumer["foreign"], consumer["ack"]) == (True, "manual")
        assert all(e["origin"] == "discovered" for e in events if e["event"] == "topology")
        shown = json.dumps(events) + err
        assert SECRET not in shown and quote(SECRET, safe="") not in shown
        assert lists(rabbit, vhost) == before  # nothing declared, nothing left behind
        # The other vhost is its own world.
        run = mqscope("--broker", url_for(rabbit, other), "--management", management_url, "--timeout", "2")
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        found = topology_of([json.loads(line) for line in out.splitlines()])
        assert (set(found["exchange"]), set(found["queue"])) == ({"billing"}, {"invoices"})
    finally:
        rabbit.ctl("delete_vhost", other)


def test_a_binding_added_mid_session_arrives_as_a_topology_event(
    rabbit: RabbitBroker, management_url: str, vhost: str
) -> None:
    url = url_for(rabbit, vhost)
    declare_shop(url)
    run = mqscope("--broker", url, "--management", management_url, "--refresh", "0.3", "--timeout", "30")
    assert run.stdout is not None
    seen: list[dict[str, Any]] = []
    try:
        read_until(run.stdout, seen, lambda e: e["event"] == "queue_depth")  # the first reading is out
        with Connection(url) as conn:
            Queue("audit_log", Exchange("shop", "topic"), routing_key="refunds.#")(conn.channel()).declare()
        added = read_until(
            run.stdout,
            seen,
            lambda e: (
                e["event"] == "topology" and e["kind"] == "binding" and e.get("routing_key") == "refunds.#"
            ),
        )
    finally:
        run.terminate()
        run.communicate(timeout=60)
    assert (added["op"], added["source"], added["destination"], added["origin"]) == (
        "declare",
        "shop",
        "audit_log",
        "discovered",
    )


def test_tap_without_scenario_routes_to_the_real_queues_and_settles(
    rabbit: RabbitBroker, management_url: str, vhost: str
) -> None:
    url = url_for(rabbit, vhost)
    declare_shop(url)
    before = lists(rabbit, vhost)
    run = mqscope("--tap", "shop", "--broker", url, "--management", management_url, "--timeout", "20")
    assert run.stdout is not None
    seen: list[dict[str, Any]] = []
    read_until(
        run.stdout, seen, lambda e: e["event"] == "broker_status" and e["detail"].startswith("tapping")
    )
    with Connection(url) as conn:
        producer = Producer(conn.channel())
        for key in ("orders.created", "orders.paid"):
            producer.publish({"key": key}, exchange="shop", routing_key=key)
    routed = [read_until(run.stdout, seen, lambda e: e["event"] == "routed") for _ in range(2)]
    assert [sorted(e["queues"]) for e in routed] == [["audit_log", "orders"], ["audit_log", "orders"]]
    received: list[Any] = []
    with Connection(url) as conn:  # someone else's consumer takes audit_log's copies
        Consumer(
            conn.channel(),
            [Queue("audit_log", no_declare=True)],
            callbacks=[lambda body, message: (received.append(body), message.ack())],
        ).consume()
        while len(received) < 2:
            conn.drain_events(timeout=10)
    acked = {read_until(run.stdout, seen, lambda e: e["event"] == "acked")["msg"] for _ in range(2)}
    assert acked == {e["msg"] for e in routed}
    assert [b["key"] for b in received] == ["orders.created", "orders.paid"]  # it received every message
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    # orders has no consumer: its copies stay in flight there, as they stay in the queue.
    settled = [e for e in seen + [json.loads(line) for line in out.splitlines()] if e["event"] == "acked"]
    assert {e["queue"] for e in settled} == {"audit_log"}
    assert lists(rabbit, vhost) == before  # the tap's own queue went with its connection


def screen_text(canvas: DiagramCanvas) -> list[str]:
    return [canvas.render_line(y).text for y in range(canvas.size.height)]


def discovery_engine(url: str, management_url: str, tap: str | None = None) -> Engine:
    """The engine the CLI builds for `--broker URL --management M [--tap EXCHANGE]` (no scenario)."""
    source = discovery_source(backend_for(url), url_vhost(url), management=management_url, every=0.3)
    if tap is None:
        engine = Engine(source.first.scenario, url)
        engine.discovery = source
        return engine
    spec = TapSpec.parse(tap)
    engine = Engine(tap_scenario(spec, source.first.scenario), url)
    engine.tap, engine.discovery = spec, replace(source, beside_tap=True)
    return engine


async def test_tui_draws_the_discovered_topology_and_follows_it(
    rabbit: RabbitBroker, management_url: str, vhost: str
) -> None:
    url = url_for(rabbit, vhost)
    declare_shop(url)
    app = MqscopeApp(discovery_engine(url, management_url), play_script=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.topology.queue("audit_log") is not None, "the real queues")
        text = "\n".join(screen_text(app.screen.query_one(DiagramCanvas)))
        assert "shop" in text and "audit_log" in text and "orders" in text
        with Connection(url) as conn:
            Queue("refunds", Exchange("shop", "topic"), routing_key="refunds.#")(conn.channel()).declare()
            # Another program's consumer (drawn as not mqscope's once RabbitMQ's statistics have it).
            Consumer(conn.channel(), [Queue("refunds", no_declare=True)], no_ack=True, callbacks=[]).consume()
            await wait_for(pilot, lambda: app.ledger.topology.queue("refunds") is not None, "the new queue")
            await wait_for(pilot, lambda: bool(app.ledger.topology.consumers), "its consumer")
            [consumer] = app.ledger.topology.consumers
            assert (consumer.queues, consumer.foreign, consumer.auto_ack) == (("refunds",), True, True)
            drawn = ("refunds", "not mqscope's", "no-ack")

            def on_screen() -> bool:
                text = "\n".join(screen_text(app.screen.query_one(DiagramCanvas)))
                return all(word in text for word in drawn)

            await wait_for(pilot, on_screen, "the new queue and its consumer drawn")
        with pytest.raises(PublishError, match="discovery mode only watches"):
            app.engine.publish("shop", "orders.created")
        # Reset keeps watching (a fresh discovery engine, nothing declared); another scenario is refused.
        before = app.engine
        await pilot.press("f10")
        await wait_for(pilot, lambda: app.engine is not before, "the reset")
        assert app.engine.discovery is before.discovery and app.engine.tap is None
        await wait_for(pilot, lambda: app.ledger.topology.queue("refunds") is not None, "the topology again")
        await app.switch_scenario("seed")
        assert (
            app.engine.scenario.name == "discovered"
            and app.ledger.topology.exchange("media_exchange") is None
        )
    assert "media_exchange" not in lists(rabbit, vhost)[0]  # nothing of the seed's was declared


async def test_tui_tap_without_scenario_settles_what_it_sees(
    rabbit: RabbitBroker, management_url: str, vhost: str
) -> None:
    """The issue's "2 sent, 2 in flight for ever": both copies of both messages are taken by the
    system's own consumer, and the status line comes to 0 in flight."""
    url = url_for(rabbit, vhost)
    with Connection(url) as conn:
        Queue("video_queue", Exchange("media", "topic"), routing_key="video.#")(conn.channel()).declare()
        Queue("audit_queue", Exchange("media", "topic"), routing_key="#")(conn.channel()).declare()
    app = MqscopeApp(discovery_engine(url, management_url, tap="media"), play_script=False)
    received: list[Any] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.ledger.broker.detail.startswith("tapping"), "the tap bound")
        with Connection(url) as conn:
            producer = Producer(conn.channel())
            for key in ("video.upload", "video.encode"):
                producer.publish({"key": key}, exchange="media", routing_key=key)
        await wait_for(pilot, lambda: app.ledger.published == 2, "both tapped")
        with Connection(url) as conn:
            queues = [Queue(name, no_declare=True) for name in ("video_queue", "audit_queue")]
            Consumer(conn.channel(), queues, callbacks=[lambda b, m: (received.append(b), m.ack())]).consume()
            while len(received) < 4:
                conn.drain_events(timeout=10)
        await wait_for(pilot, lambda: app.ledger.all_settled, "every tapped copy settled")
        facts = app.screen.query_one(StatusLine).facts
        assert facts is not None and (facts.published, facts.in_flight) == (2, 0)
        assert "2 sent, 0 in flight" in status_text(facts).plain
    assert len(received) == 4  # the system's consumer got every copy: mqscope took none


def test_definitions_file_instead_of_the_plugin_and_the_reason_without_either(
    rabbit: RabbitBroker, vhost: str, tmp_path: Path
) -> None:
    url = url_for(rabbit, vhost)
    declare_shop(url)
    exported = tmp_path / "definitions.json"
    exported.write_text(rabbit.ctl("export_definitions", "-"), encoding="utf-8")  # every vhost's
    before = lists(rabbit, vhost)
    with socket.socket() as closed:  # a port nothing listens on: no management API there
        closed.bind(("127.0.0.1", 0))
        nothing = f"http://127.0.0.1:{closed.getsockname()[1]}"
    run = mqscope("--broker", url, "--management", nothing, "--timeout", "2")
    out, err = run.communicate(timeout=60)
    assert (run.returncode, out) == (2, "")
    assert err.strip() == (
        f"error: no management API at {nothing} (enable rabbitmq_management, or give --definitions FILE)"
    )
    run = mqscope("--broker", url, "--definitions", str(exported), "--timeout", "2")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    found = topology_of([json.loads(line) for line in out.splitlines()])
    assert set(found["exchange"]) == {"shop", "audit"} and set(found["queue"]) == {"orders", "audit_log"}
    assert ("shop", "audit", "exchange", "orders.#") in found["binding"]
    assert found["consumer"] == {}  # a file knows of no consumers, and mqscope runs none
    assert lists(rabbit, vhost) == before


def test_management_api_going_away_mid_session_is_a_status_line_then_back(
    rabbit: RabbitBroker, management_url: str, vhost: str
) -> None:
    url = url_for(rabbit, vhost)
    declare_shop(url)
    run = mqscope("--broker", url, "--management", management_url, "--refresh", "0.3", "--timeout", "90")
    assert run.stdout is not None
    seen: list[dict[str, Any]] = []
    try:
        read_until(run.stdout, seen, lambda e: e["event"] == "queue_depth")
        rabbit.control("stop-app")  # AMQP and the management API go away; the node stays
        try:
            lost = read_until(run.stdout, seen, lambda e: e["event"] == "broker_status")
        finally:
            rabbit.control("start-app")
        back = read_until(
            run.stdout, seen, lambda e: e["event"] == "broker_status" and e["state"] == "connected"
        )
    finally:
        run.terminate()
        _, err = run.communicate(timeout=60)
    assert lost["state"] == "disconnected" and "retrying in" in lost["detail"], lost
    assert (back["state"], back["detail"]) == ("connected", f"watching {management_url} vhost {vhost} again")
    assert "Traceback" not in err


@pytest.mark.parametrize("problem", ["password", "vhost"])
def test_refused_or_missing_vhost_is_one_line_without_password(
    rabbit: RabbitBroker, management_url: str, vhost: str, problem: str
) -> None:
    url = url_for(rabbit, vhost)
    parts = urlsplit(management_url)
    if problem == "password":  # AMQP lets guest in; the management API is asked as someone else
        args = ["--management", f"http://guest:{quote(SECRET, safe='')}@{parts.netloc}"]
        expected = f"the management API at {management_url} refused user 'guest' (401:"
    else:
        args = ["--management", management_url, "--vhost", "no-such-vhost"]
        expected = f"no vhost 'no-such-vhost' at {management_url} (pick one with --vhost)"
    run = mqscope("--broker", url, *args, "--timeout", "2")
    out, err = run.communicate(timeout=60)
    assert (run.returncode, out) == (2, "")
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1, err
    assert SECRET not in err and quote(SECRET, safe="") not in err
