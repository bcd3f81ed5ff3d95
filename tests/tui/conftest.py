"""TUI test fixtures: fresh broker state per test and deterministic message ids."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # states.py is shared with scripts/screenshots.py

from states import counting_ids, reset_broker_state


@pytest.fixture(autouse=True)
def fresh_broker() -> Iterator[None]:
    """memory:// keeps queues process-wide: every test starts (and leaves) it empty."""
    reset_broker_state()
    yield
    reset_broker_state()


@pytest.fixture(autouse=True)
def deterministic_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Message ids are uuid-based; snapshots and assertions want 00000001, 00000002, ..."""
    monkeypatch.setattr("core.engine.new_message_id", counting_ids())


@pytest.fixture(autouse=True)
def fixed_x_death_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """x-death's time is the wall clock: the inspector shows it, so snapshots pin it."""
    monkeypatch.setattr("core.broker.message.wall_clock", lambda: 1_700_000_000.0)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` pilot tests on a fresh event loop (no async plugin is installed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
