"""Fixtures every test may use: RabbitMQ's own topic routing cases (tests/data).

Process-global broker state (the default `mqscope://` broker, memory://) is reset by the tests that use
it, not here: most tests take a broker of their own (tests/broker_support.fresh_url).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance_cases import load_cases


@pytest.fixture(scope="session")
def conformance() -> dict[str, Any]:
    """RabbitMQ's own topic routing cases (tests/data/rabbitmq_topic_cases.json)."""
    return load_cases()
