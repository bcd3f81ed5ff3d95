"""A session on the real RabbitMQ recorded with --record, then replayed with --replay: the same
events in the same order, no broker contacted (a replay's backend refuses to connect: that would be
exit 1), and the recording never holds the password."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from engine_runner import reset_rabbit
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
