"""Snapshot tests of the states in states.py (the same ones scripts/screenshots.py renders).

Deterministic by construction: animations off, cursors frozen, message ids counted, and each state
settles on app state (every message settled, queues empty) before the screenshot.
"""

from __future__ import annotations

import pytest
from states import STATE_BY_NAME


@pytest.mark.parametrize("name", list(STATE_BY_NAME))
def test_snapshot(snap_compare, name: str) -> None:  # type: ignore[no-untyped-def]
    state = STATE_BY_NAME[name]
    assert snap_compare(state.app(), terminal_size=state.size, run_before=state.steps)
