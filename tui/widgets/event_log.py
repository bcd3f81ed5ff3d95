"""The event log, in the tutorial's voice (SENDING, RECEIVED via key, ACKNOWLEDGED), one line per event.

Lines are Rich Text built from core.eventlog.describe, never markup. A frame with a burst writes a few
lines and one summary, so the log stays readable and cheap at thousands of messages a second.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import RichLog

from core.eventlog import describe
from core.events import ConsumerState, FlowEvent, QueueDepth

LINES_PER_FRAME = 12
MAX_KEYS = 20000
QUIET_STATES = ("idle", "working")

STYLES = {
    "SENDING": "bold cyan",
    "ROUTED": "blue",
    "RECEIVED": "yellow",
    "ACKNOWLEDGED": "bold green",
    "FAILED": "bold red",
    "REQUEUED": "magenta",
    "DEAD-LETTERED": "red",
    "DROPPED": "red",
    "EXPIRED": "red",
    "UNROUTABLE": "bold yellow",
    "RETURNED": "bold yellow",
    "CONSUMER": "bold magenta",
    "BROKER": "dim",
    "WARNING": "bold yellow",
    "ERROR": "bold red",
    "INFO": "dim",
}


def worth_a_line(event: FlowEvent) -> bool:
    """Depth polls and routine idle/working flips are shown elsewhere (the canvas), not logged."""
    if isinstance(event, QueueDepth):
        return False
    return not (isinstance(event, ConsumerState) and event.state in QUIET_STATES)


def styled(line: str) -> Text:
    """Colour the leading verb; the rest (keys, bodies) stays plain text."""
    verb, _, rest = line.partition(" ")
    verb_key = verb.rstrip(":")
    text = Text()
    text.append(verb, STYLES.get(verb_key, "bold"))
    if rest:
        text.append(" ")
        text.append(rest)
    return text


class EventLog(RichLog):
    """A scrolling log of flow events, batched per frame."""

    DEFAULT_CSS = """
    EventLog {
        background: $surface;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=1000, markup=False, highlight=False, wrap=False)
        self.keys: dict[str, str] = {}
        self.lines_written = 0

    def add_events(self, events: Sequence[FlowEvent]) -> None:
        """Describe a frame's events; beyond a dozen lines, summarise the rest in one line."""
        shown = 0
        skipped: Counter[str] = Counter()
        for event in events:
            line = describe(event, self.keys)  # always, so RECEIVED lines know their key
            if not worth_a_line(event):
                continue
            if shown < LINES_PER_FRAME:
                self.write(styled(line))
                shown += 1
            else:
                skipped[line.split(" ", 1)[0]] += 1
        if skipped:
            parts = ", ".join(f"{n} {verb}" for verb, n in skipped.most_common())
            self.write(Text(f"… burst: {sum(skipped.values())} more events ({parts})", "dim italic"))
        self.lines_written += shown
        while len(self.keys) > MAX_KEYS:
            del self.keys[next(iter(self.keys))]

    def clear_log(self) -> None:
        self.clear()
        self.keys.clear()
