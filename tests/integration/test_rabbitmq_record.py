"""A session on the real RabbitMQ recorded with --record, then replayed with --replay: the same
events in the same order, no broker contacted (a replay's backend refuses to connect: that would be
exit 1), and the recording never holds the password."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import amqp
import pytest
from engine_runner import reset_rabbit
from kombu import Connection
from rabbit_support import ROOT, RabbitBroker

from core.recording import Recording
from core.scenario import load_scenario


def mqscope(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "--headless", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _without_ts(stdout: str) -> list[dict[str, object]]:
    events = [json.loads(line) for line in stdout.splitlines()]
    for event in events:
        event.pop("ts")
    return events


@pytest.mark.rabbitmq
def test_a_rabbitmq_session_replays_with_no_broker(rabbit: RabbitBroker, tmp_path: Path) -> None:
    reset_rabbit(rabbit.url, load_scenario("dead_letter").topology)
    path = tmp_path / "rabbit.jsonl"
    live = mqscope("--scenario", "dead_letter", "--broker", rabbit.url, "--speed", "4", "--record", str(path))
    assert live.returncode == 0, live.stderr
    recorded = _without_ts(live.stdout)
    assert {"dead_lettered", "expired", "topology"} <= {e["event"] for e in recorded}

    password = rabbit.url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    text = path.read_text()
    assert f":{password}@" not in text
    head = Recording(str(path)).header
    assert head.broker.startswith("amqp://") and ":***@" in head.broker
    assert (head.scenario, head.mode) == ("dead_letter", "scenario")

    replayed = mqscope("--replay", str(path), "--speed", "4")
    assert (replayed.returncode, replayed.stderr) == (0, "")
    assert _without_ts(replayed.stdout) == recorded


@pytest.mark.rabbitmq
def test_a_recorded_tap_replays_with_its_topology(rabbit: RabbitBroker, tmp_path: Path) -> None:
    """A tap announces no topology as events: the header carries it, so a replay draws the bindings."""
    seed = load_scenario("seed")
    reset_rabbit(rabbit.url, seed.topology)
    with Connection(rabbit.url) as conn:  # the "existing system", declared by someone else
        channel = conn.channel()
        for exchange in seed.topology.kombu_exchanges().values():
            exchange(channel).declare()
        for spec in seed.topology.queues:
            for bound in seed.topology.kombu_queue_bindings(spec):
                bound(channel).declare()
    path = tmp_path / "tap.jsonl"
    args = ["--headless", "--json", "--tap", "media_exchange", "--scenario", "seed", "--record", str(path)]
    tap = subprocess.Popen(
        [sys.executable, "-m", "tui", *args, "--broker", rabbit.url, "--timeout", "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert tap.stdout is not None
    lines = [tap.stdout.readline()]
    while '"connected"' not in lines[-1]:  # the tap queue is bound once it says connected
        assert lines[-1], tap.stderr.read() if tap.stderr else "tap exited"
        lines.append(tap.stdout.readline())
    with Connection(rabbit.url) as conn:
        channel = conn.channel()
        message = amqp.Message(b'{"k": 1}', content_type="application/json", message_id="m1")
        channel.basic_publish(message, exchange="media_exchange", routing_key="video.upload")
    rest = tap.stdout.read()  # not communicate(): it reads the pipe past what readline buffered
    err = tap.stderr.read() if tap.stderr else ""
    tap.wait(timeout=60)
    assert tap.returncode == 0, err
    recorded = _without_ts("".join(lines) + rest)
    assert ["audit_queue", "video_queue"] in [e["queues"] for e in recorded if e["event"] == "routed"]

    head = Recording(str(path)).header
    assert head.mode == "tap"
    assert {q.name: [b.routing_key for b in q.bindings] for q in head.topology.queues} == {
        "video_queue": ["video.#"],
        "audit_queue": ["#"],
    }
    replayed = mqscope("--replay", str(path), "--speed", "4")
    assert (replayed.returncode, replayed.stderr) == (0, "")
    assert _without_ts(replayed.stdout) == recorded
