"""A real RabbitMQ on loopback for the integration tests, started once per session by scripts/rabbitmq.sh.

MQSCOPE_TEST_AMQP_URL reuses a broker that is already running (loopback only). Without rabbitmq-server
the tests skip with the reason; under CI=true they must run, so a broker that cannot start fails them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
from rabbit_support import LOOPBACK, SCRIPT, RabbitBroker


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"RabbitMQ integration tests must run in CI, but: {reason}", pytrace=False)
    pytest.skip(f"no RabbitMQ: {reason}")


@pytest.fixture(scope="session")
def rabbit() -> Iterator[RabbitBroker]:
    """A running RabbitMQ on loopback for the whole session; stopped at the end if we started it."""
    given = os.environ.get("MQSCOPE_TEST_AMQP_URL")
    if given:
        host = urlsplit(given).hostname or ""
        if host not in LOOPBACK:
            pytest.fail(f"MQSCOPE_TEST_AMQP_URL must point at loopback, not {host!r}", pytrace=False)
        yield RabbitBroker(given, None)
        return
    if not os.access(SCRIPT, os.X_OK):
        _unavailable(f"{SCRIPT} is missing or not executable")
    state = Path(os.environ.get("TMPDIR", "/tmp")) / f"mqscope-rabbitmq-pytest-{os.getpid()}.state"
    try:
        started = subprocess.run(
            [str(SCRIPT), "start", str(state)], capture_output=True, text=True, timeout=150
        )
    except subprocess.TimeoutExpired:
        started = None
    if started is None or started.returncode != 0:
        detail = " ".join((started.stderr if started else "start timed out").split())[-400:]
        subprocess.run([str(SCRIPT), "stop", str(state)], capture_output=True, timeout=120)
        _unavailable(f"scripts/rabbitmq.sh start failed: {detail}")
    url = started.stdout.strip().splitlines()[-1]
    try:
        yield RabbitBroker(url, state)
    finally:
        subprocess.run([str(SCRIPT), "stop", str(state)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def amqp_url(rabbit: RabbitBroker) -> str:
    return rabbit.url


@pytest.fixture(scope="session")
def management_url(rabbit: RabbitBroker) -> str:
    """The management HTTP API (http://127.0.0.1:PORT, no credentials in it: guest works on loopback).

    With MQSCOPE_TEST_AMQP_URL, MQSCOPE_TEST_MANAGEMENT_URL names it (loopback only), else tests
    that need it skip."""
    given = os.environ.get("MQSCOPE_TEST_MANAGEMENT_URL")
    url = given if rabbit.state is None else rabbit.management_url()
    if not url:
        _unavailable("no management API for this broker (set MQSCOPE_TEST_MANAGEMENT_URL)")
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        pytest.fail(f"the management API must be on loopback, not {host!r}", pytrace=False)
    return url
