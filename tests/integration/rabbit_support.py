"""The RabbitMQ under test, as the integration tests see it (imported by name: not a conftest)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "rabbitmq.sh"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class RabbitBroker:
    """The broker under test: its URL, and (when we started it) the state file to control it with."""

    url: str
    state: Path | None

    def management_url(self) -> str | None:
        """The management HTTP API of the node we started (scripts/rabbitmq.sh mgmt-url), or None
        for a broker given by MQSCOPE_TEST_AMQP_URL (then MQSCOPE_TEST_MANAGEMENT_URL, if set)."""
        if self.state is None:
            return None
        done = subprocess.run(
            [str(SCRIPT), "mgmt-url", str(self.state)], capture_output=True, text=True, timeout=30
        )
        return (done.stdout.strip() or None) if done.returncode == 0 else None

    def control(self, action: str) -> None:
        """stop-app / start-app through the project's script (only for a node we started)."""
        if self.state is None:
            pytest.skip("the outage test needs a node started by scripts/rabbitmq.sh")
        subprocess.run([str(SCRIPT), action, str(self.state)], check=True, timeout=120)

    def ctl(self, *args: str, stdin: str | None = None) -> str:
        """rabbitmqctl ARGS against the node (only one we started: its name is in the state file);
        its stdout. A failure fails the test with rabbitmqctl's own words."""
        if self.state is None:
            pytest.skip("rabbitmqctl needs a node started by scripts/rabbitmq.sh")
        done = subprocess.run(
            [str(SCRIPT), "ctl", str(self.state), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}", pytrace=False)
        return done.stdout
