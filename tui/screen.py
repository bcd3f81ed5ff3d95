"""The main screen for one running scenario: status line, flow canvas, routing lens, log, inspector.

A reset or a scenario switch replaces the whole screen, so no widget ever mixes two engines' state.
`apply` is the one place a frame's batch of events fans out to the widgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from core.engine import FlowEngine
from core.events import FlowEvent
from tui.state import FlowState
from tui.widgets.event_log import EventLog
from tui.widgets.flow_canvas import FlowCanvas
from tui.widgets.inspector import Inspector
from tui.widgets.routing_lens import RoutingLens
from tui.widgets.status_line import StatusFacts, StatusLine


class FlowScreen(Screen[None]):
    """Everything about one engine; the app feeds it events once per frame."""

    AUTO_FOCUS = "#routing-key"

    def __init__(self, engine: FlowEngine, state: FlowState) -> None:
        super().__init__()
        self.engine = engine
        self.state = state

    def compose(self) -> ComposeResult:
        canvas = FlowCanvas(self.engine.topology, id="canvas")
        canvas.border_title = self.engine.scenario.title
        canvas.set_speed(self.engine.clock.speed)
        lens = RoutingLens(self.engine.scenario, id="lens")
        lens.border_title = "routing lens"
        log = EventLog(id="log")
        log.border_title = "event log"
        yield StatusLine(id="status")
        with Horizontal(id="panes"):
            with Vertical(id="main"):
                yield canvas
                with Horizontal(id="bottom"):
                    yield lens
                    yield log
            yield Inspector(self.state, id="inspector")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.call_later(getattr(self.app, "refresh_status", lambda: None))

    @property
    def canvas(self) -> FlowCanvas:
        return self.query_one("#canvas", FlowCanvas)

    @property
    def lens(self) -> RoutingLens:
        return self.query_one("#lens", RoutingLens)

    @property
    def inspector(self) -> Inspector:
        return self.query_one("#inspector", Inspector)

    def show_status(self, facts: StatusFacts) -> None:
        """Repaint the status line (before the screen is composed there is none yet)."""
        for line in self.query(StatusLine):
            line.show(facts)

    def apply(self, events: Sequence[FlowEvent]) -> None:
        """One frame's batch: model first, then every widget that shows it."""
        self.state.feed_all(events)
        self.canvas.apply(events)
        self.query_one("#log", EventLog).add_events(events)
        self.inspector.events_arrived(events)

    def inspect(self, kind: str, name: str) -> None:
        """Open the inspector on a message or a node."""
        inspector = self.inspector
        inspector.display = True
        inspector.target = (kind, name)
        inspector.render_target()

    def close_inspector(self) -> bool:
        """Hide the inspector; False when it was not open."""
        inspector = self.inspector
        if not inspector.display:
            return False
        inspector.display = False
        return True
