"""TUI test fixtures: fresh broker state per test. Message ids are pinned by tui.testing.make_app, and
`async def` tests run through mqscope's own pytest plugin (tests/conftest.py), as a teacher's would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # states.py is shared with scripts/screenshots.py

from tui.testing import reset_broker_state


@pytest.fixture(autouse=True)
def fresh_broker() -> Iterator[None]:
    """memory:// keeps queues process-wide: every test starts (and leaves) it empty."""
    reset_broker_state()
    yield
    reset_broker_state()


@pytest.fixture(autouse=True)
def fixed_x_death_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """x-death's time is the wall clock: the inspector shows it, so snapshots pin it."""
    monkeypatch.setattr("core.broker.message.wall_clock", lambda: 1_700_000_000.0)
