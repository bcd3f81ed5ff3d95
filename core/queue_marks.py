"""What a queue's arguments make it do differently, as marks: short for the canvas's queue box, in
words for the inspector and the box's tooltip. One place, so the two always say the same thing.

The short marks follow RabbitMQ's management UI badges where it has them (SAC, Pri), so a reader of
one reads the other; QQ is a quorum queue, rej / rej+dlx its x-overflow when it refuses new messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class QueueMark(NamedTuple):
    """One behaviour: `short` fits a queue box's top border, `words` says it plainly."""

    short: str
    words: str


def queue_marks(arguments: Mapping[str, Any]) -> list[QueueMark]:
    """The marks for a queue declared with these arguments, most telling first (the canvas drops
    marks from the end when its box has no room for them all)."""
    marks: list[QueueMark] = []
    if str(arguments.get("x-queue-type") or "classic") == "quorum":
        marks.append(QueueMark("QQ", "quorum queue"))
    if arguments.get("x-single-active-consumer") is True:
        marks.append(QueueMark("SAC", "single active consumer: the earliest subscriber gets all"))
    priority = arguments.get("x-max-priority")
    if isinstance(priority, int) and not isinstance(priority, bool):
        marks.append(QueueMark(f"Pri{priority}", f"message priorities 0-{priority} (higher first)"))
    overflow = arguments.get("x-overflow")
    if overflow == "reject-publish":
        marks.append(
            QueueMark("rej", "when full, new messages are refused (x-overflow reject-publish)")
        )
    elif overflow == "reject-publish-dlx":
        marks.append(
            QueueMark(
                "rej+dlx",
                "when full, new messages are refused and dead-lettered (reject-publish-dlx)",
            )
        )
    return marks
