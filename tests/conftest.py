"""Fixtures every test may use: RabbitMQ's own topic routing cases (tests/data), and mqscope's pytest
plugin (tui.pytest_plugin: `async def` tests, the mqscope_app fixture) when mqscope is not installed.

Process-global broker state (the default `mqscope://` broker, memory://) is reset by the tests that use
it, not here: most tests take a broker of their own (tests/broker_support.fresh_url).
"""

from __future__ import annotations

from typing import Any

import pytest

import tui.pytest_plugin
from conformance_cases import load_cases


def pytest_configure(config: pytest.Config) -> None:
    """Installed, mqscope's plugin is loaded through its entry point; from a bare checkout it is
    registered here under the same name (`-p no:mqscope` still turns it off)."""
    if config.pluginmanager.get_plugin("mqscope") is None and not config.pluginmanager.is_blocked("mqscope"):
        config.pluginmanager.register(tui.pytest_plugin, "mqscope")


@pytest.fixture(scope="session")
def conformance() -> dict[str, Any]:
    """RabbitMQ's own topic routing cases (tests/data/rabbitmq_topic_cases.json)."""
    return load_cases()
