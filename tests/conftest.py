"""Shared fixtures: where ../shared lives, and resetting process-global broker state between tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "rabbitmq_topic_cases.json"


@pytest.fixture(scope="session")
def conformance() -> dict[str, Any]:
    """RabbitMQ's own topic routing cases (../shared/conformance); required, never skipped."""
    assert CONFORMANCE.exists(), f"missing {CONFORMANCE}: ../shared must sit beside the repo"
    return json.loads(CONFORMANCE.read_text())
