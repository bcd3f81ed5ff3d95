"""The real app under a burst with animations on: the diagram goes into flood mode (few tokens, counts
at once) and, once everything settles, its counts are the app ledger's, copy for copy."""

from __future__ import annotations

import pytest

from core.backends import DEFAULT_BROKER_URL
from core.engine import Engine
from core.scenario import parse_scenario
from tui import testing
from tui.app import MqscopeApp
from tui.widgets import diagram_canvas

SCENARIO = """
[scenario]
name = "burst"

[[exchanges]]
name = "media_exchange"
type = "topic"

[[queues]]
name = "video_queue"
bindings = [{ exchange = "media_exchange", routing_key = "video.#" }]

[[queues]]
name = "audit_queue"
bindings = [{ exchange = "media_exchange", routing_key = "#" }]

[[consumers]]
name = "transcoder"
queues = ["video_queue"]
prefetch = 50

[[consumers]]
name = "auditor"
queues = ["audit_queue"]
prefetch = 50
"""
MESSAGES = 600
FLOOD_AT = 40
"""Lowered for the test: a burst of a few hundred messages then surely makes batches this big."""


def counts(app: MqscopeApp, ledger_name: str) -> dict[str, tuple[int, ...]]:
    ledger = app.ledger if ledger_name == "app" else app.session_screen.canvas.ledger
    out: dict[str, tuple[int, ...]] = {
        q: (c.ready, c.unacked, c.routed, c.acked) for q, c in ledger.queues.items()
    }
    out |= {c: (n.processed, n.acked) for c, n in ledger.consumers.items()}
    out["exchange"] = (ledger.exchanges["media_exchange"].published,)
    return out


async def test_a_burst_floods_the_diagram_and_its_counts_end_as_the_ledgers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(diagram_canvas, "FLOOD_EVENTS", FLOOD_AT)
    testing.reset_broker_state()
    engine = Engine(parse_scenario(SCENARIO, "burst.toml"), DEFAULT_BROKER_URL, speed=4.0)
    app = MqscopeApp(engine, play_script=False)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.animation_level != "none"
        await testing.wait_for(pilot, lambda: app.ledger.broker.state == "connected", "the broker")
        for n in range(MESSAGES):
            key = "video.upload" if n % 2 else "user.login"
            engine.enqueue(engine.make_request("media_exchange", key, {"n": n}))
        await testing.settle(pilot, MESSAGES)
        canvas = app.session_screen.canvas
        assert canvas.flood_batches > 0
        await testing.wait_for(pilot, lambda: not canvas.animating, "the last tokens to arrive")
        assert canvas.pending == 0
        assert counts(app, "canvas") == counts(app, "app")
        assert counts(app, "app")["exchange"] == (MESSAGES,)
