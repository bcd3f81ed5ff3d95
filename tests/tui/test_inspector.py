"""The inspector says what became of every copy of a message, dead-lettered copies included."""

from __future__ import annotations

from diagram_host import engine_events

from core.events import DeadLettered
from core.ledger import Ledger
from core.scenario import load_scenario
from tui.widgets.inspector import message_text

QUEUES = {q.name for q in load_scenario("dead_letter").topology.queues}


def copy_lines(text: str) -> dict[str, str]:
    """The `  queue: status` (or `  exchange: status`) line of each copy, as {where: status}."""
    out = {}
    for line in text.splitlines():
        where, colon, status = line.strip().partition(":")
        if line.startswith("  ") and colon and where in QUEUES | {"exchange"}:
            out[where] = status.strip()
    return out


def test_every_copy_of_a_dead_lettered_message_has_a_status() -> None:
    events = engine_events("dead_letter")
    ledger = Ledger(load_scenario("dead_letter").topology)
    ledger.feed_all(events)
    (dead,) = [e for e in events if isinstance(e, DeadLettered) and e.reason == "rejected"]
    assert dead.msg is not None
    text = message_text(ledger.records[dead.msg]).plain
    assert "1 copy, 1 more by dead-lettering (routing reported by broker)" in text
    copies = copy_lines(text)
    assert copies == {
        "orders_queue": "dead-lettered (rejected)",
        "orders_dead": "acked",
    }
    assert "· dead-lettered here from orders_queue (rejected)" in text
    for msg, record in ledger.records.items():
        statuses = copy_lines(message_text(record).plain)
        assert statuses and all(statuses.values()), f"{msg}: a copy without a status: {statuses}"
