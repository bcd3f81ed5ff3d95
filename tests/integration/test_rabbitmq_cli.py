"""The command line against RabbitMQ: bad broker URLs in one line without the password, and tap mode."""

from __future__ import annotations

import json
import subprocess
import sys

import amqp
import pytest
from engine_runner import reset_rabbit
from kombu import Connection
from rabbit_support import ROOT, RabbitBroker

from core.scenario import load_scenario

SECRET = "s3cr3t-pw"


def mqscope(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "--headless", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "url",
    [
        f"amqp://guest:{SECRET}@127.0.0.1:1//",  # nothing listens there
        f"amqp://guest:{SECRET}@127.0.0.1:notaport//",
        f"amqp://guest:{SECRET}@/",
        f"pyamqp://guest:{SECRET}@127.0.0.1:70000//",
        f"amqp://guest:{SECRET}@127.0.0.1:5672/?heartbeat=x",
    ],
)
def test_bad_broker_url_is_one_line_without_password(url: str) -> None:
    result = mqscope("--broker", url, "--timeout", "20")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""  # the one line is all there is: no status lines before it
    assert SECRET not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.rabbitmq
def test_wrong_password_is_one_line_without_password(rabbit: RabbitBroker) -> None:
    url = rabbit.url.replace("guest:guest@", f"guest:{SECRET}@")
    result = mqscope("--broker", url, "--timeout", "20")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert "ACCESS_REFUSED" in result.stderr and SECRET not in result.stderr + result.stdout


@pytest.mark.rabbitmq
def test_tap_watches_without_consuming(rabbit: RabbitBroker) -> None:
    seed = load_scenario("seed")
    reset_rabbit(rabbit.url, seed.topology)
    # The "existing system": the seed topology declared by someone else, with nobody consuming.
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        for exchange in seed.topology.kombu_exchanges().values():
            exchange(channel).declare()
        for spec in seed.topology.queues:
            for bound in seed.topology.kombu_queue_bindings(spec):
                bound(channel).declare()
    args = ["--headless", "--json", "--tap", "media_exchange", "--scenario", "seed"]
    tap = subprocess.Popen(
        [sys.executable, "-m", "tui", *args, "--broker", rabbit.url, "--timeout", "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert tap.stdout is not None
    first = tap.stdout.readline()
    while '"connected"' not in first:  # the tap queue is bound once it says connected
        assert first, tap.stderr.read() if tap.stderr else "tap exited"
        first = tap.stdout.readline()
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        for key in ("video.upload", "user.login"):
            body = json.dumps({"key": key}).encode()
            message = amqp.Message(body, content_type="application/json", message_id=key)
            channel.basic_publish(message, exchange="media_exchange", routing_key=key)
        raw = amqp.Message(b"\x80\x04K\x01.", content_type="application/x-python-serialize")
        channel.basic_publish(raw, exchange="media_exchange", routing_key="raw.bytes")
    out, err = tap.communicate(timeout=60)
    assert tap.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    published = {e["routing_key"]: e for e in events if e["event"] == "published"}
    assert set(published) == {"video.upload", "user.login", "raw.bytes"}
    assert published["video.upload"]["body"] == {"key": "video.upload"}
    assert "not decoded" in published["raw.bytes"]["body"]
    depths = [(e["queue"], e["ready"]) for e in events if e["event"] == "queue_depth"]
    assert ("audit_queue", 3) in depths, depths  # the watched system's backlog, read passively
    routed = {e["routing_key"]: e["queues"] for e in events if e["event"] == "routed"}
    assert routed["video.upload"] == ["audit_queue", "video_queue"]
    # Nobody's messages were taken: the system's own queues still hold every copy.
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        depth = {q: channel.queue_declare(queue=q, passive=True)[1] for q in ("video_queue", "audit_queue")}
    assert depth == {"video_queue": 1, "audit_queue": 3}
    assert "guest:guest" not in out + err


@pytest.mark.rabbitmq
def test_tap_on_missing_exchange_is_one_line(rabbit: RabbitBroker) -> None:
    # A tap that waited out its --timeout would exit 0 (and outlive mqscope()'s 60 s): exit 2 with
    # the reason means it failed at once, without timing it.
    result = mqscope("--tap", "no_such_exchange", "--broker", rabbit.url, "--timeout", "600")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and result.stdout == ""
    assert "no_such_exchange" in result.stderr and "NOT_FOUND" in result.stderr
