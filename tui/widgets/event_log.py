"""The event log, in the tutorial's voice (SENDING, RECEIVED via key, ACKNOWLEDGED), one line per event.

Lines are Rich Text built from core.eventlog.describe, never markup. A frame with a burst writes a few
lines and one summary, so the log stays readable; it is a Line-API view that renders only the visible
rows (RichLog re-rendered every written line and halved the frame rate under load).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence

from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from core.eventlog import describe
from core.events import ConsumerState, FlowEvent, QueueDepth
from tui.text import LineText

LINES_PER_FRAME = 12
BURST_REPAINT_SECONDS = 0.25
"""During a burst the log scrolls at most this often: a repaint (lines and scrollbar) cost as much as
the canvas, 30 times a second, for lines too fast to read anyway (4 a second are still readable)."""
MAX_LINES = 1000
QUIET_STATES = ("idle",)

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
    """Depth polls and routine idle reports are shown elsewhere (the canvas), not logged."""
    if isinstance(event, QueueDepth):
        return False
    return not (isinstance(event, ConsumerState) and event.state in QUIET_STATES)


def styled(line: str) -> Text:
    """Colour the leading verb; the rest (keys, bodies) stays plain text."""
    verb, _, rest = line.partition(" ")
    verb_key = verb.rstrip(":")
    text = LineText()
    text.append(verb, STYLES.get(verb_key, "bold"))
    if rest:
        text.append(" ")
        text.append(rest)
    return text


class EventLog(ScrollView, can_focus=False):
    """A scrolling log of flow events, batched per frame; follows the newest line unless scrolled up."""

    DEFAULT_CSS = """
    EventLog {
        background: $surface;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        overflow-y: scroll;
    }
    """

    def __init__(self, routing_key: Callable[[str], str | None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.routing_key = routing_key
        """A message's key for RECEIVED lines, from the app's ledger (fed before the log is)."""
        self.lines_written = 0
        self._lines: deque[Text] = deque(maxlen=MAX_LINES)
        self._total = 0
        """Lines ever written: line numbers stay stable as old lines fall off the front."""
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(256)
        self.follow = True
        """Keep the newest line in view (until the user scrolls up to read)."""
        self._base_style: Style | None = None
        self._last_grew = 0.0
        self._grow_timer: Timer | None = None

    def write(self, line: Text) -> None:
        self._lines.append(line)
        self._total += 1

    def plain_lines(self) -> list[str]:
        """The log as plain text, oldest first (what a reader sees, without styles)."""
        return [line.plain for line in self._lines]

    def add_events(self, events: Sequence[FlowEvent]) -> None:
        """Describe a frame's events; beyond a dozen lines, count the rest by kind in one line."""
        shown = 0
        skipped: Counter[str] = Counter()
        routing_key = self.routing_key
        for event in events:
            if shown >= LINES_PER_FRAME:
                if worth_a_line(event):  # a burst: count, no formatting
                    skipped[event.kind] += 1
                continue
            line = describe(event, routing_key)
            if worth_a_line(event):
                self.write(styled(line))
                shown += 1
        if skipped:
            parts = ", ".join(f"{n} {kind}" for kind, n in skipped.most_common())
            self.write(LineText(f"… burst: {sum(skipped.values())} more events ({parts})", "dim italic"))
        self.lines_written += shown
        if shown or skipped:
            self._show_growth(burst=bool(skipped))

    def _show_growth(self, *, burst: bool) -> None:
        """Scroll to the new lines now, or, in a burst, at the next repaint slot (one timer at most)."""
        if self._grow_timer is not None:
            return  # the pending repaint shows these lines too
        wait = self._last_grew + BURST_REPAINT_SECONDS - time.monotonic()
        if burst and wait > 0:
            self._grow_timer = self.set_timer(wait, self._grew, name="event log repaint")
        else:
            self._grew()

    def _grew(self) -> None:
        self._grow_timer = None
        self._last_grew = time.monotonic()
        # Assigning virtual_size re-lays out the whole screen (a reactive with layout=True), every
        # frame under load. The scrollbar is always shown (overflow-y: scroll), so the layout cannot
        # change: update the size and the scrollbar without one.
        self.set_reactive(ScrollView.virtual_size, Size(self.size.width, len(self._lines)))
        self._scroll_update(self.virtual_size)
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        self.refresh()

    def on_mouse_scroll_up(self) -> None:
        """Scrolling back to read stops the log from jumping to each new line."""
        self.follow = False

    def on_mouse_scroll_down(self) -> None:
        self.call_after_refresh(self._follow_if_at_end)

    def _follow_if_at_end(self) -> None:
        if self.scroll_y >= self.max_scroll_y:
            self.follow = True

    def notify_style_update(self) -> None:
        """The theme changed: styles and cached lines are stale."""
        super().notify_style_update()
        self._base_style = None
        self._strips.clear()

    def _style(self) -> Style:
        # rich_style walks the CSS each call: far too slow for every row of every frame.
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        if index >= len(self._lines):
            return Strip.blank(width, self._style())
        number = self._total - len(self._lines) + index
        key = (number, width)
        strip = self._strips.get(key)
        if strip is None:
            style = self._style()
            segments = list(self._lines[index].render(self.app.console, end=""))
            strip = Strip(segments).crop_extend(0, width, style).apply_style(style)
            self._strips[key] = strip
        return strip
