"""The main screen for one running scenario: status line, diagram canvas, routing lens, log, inspector.

A reset or a scenario switch replaces the whole screen, so no widget ever mixes two engines' state.
`apply` is the one place a frame's batch of events fans out to the widgets.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from core.engine import Engine
from core.events import FlowEvent
from core.ledger import Ledger
from tui.controls import FOOTER_RANK
from tui.editing.editor import Editor
from tui.editing.keys import EDIT_RANK
from tui.widgets.diagram_canvas import DiagramCanvas
from tui.widgets.diagram_scope_keys import SCOPE_RANK
from tui.widgets.event_log import EventLog
from tui.widgets.filter_bar import FilterBar
from tui.widgets.inspector import Inspector
from tui.widgets.key_bar import KeyBar
from tui.widgets.routing_lens import RoutingLens
from tui.widgets.status_line import StatusFacts, StatusLine


class SessionScreen(Screen[None]):
    """Everything about one engine; the app feeds it events once per frame."""

    AUTO_FOCUS = "#routing-key"
    BINDINGS = [
        Binding("slash", "open_filter", "Filter", show=False),
        Binding("ctrl+f", "open_filter", "Filter", show=False, priority=True),
    ]
    """`/` from any pane but a text input (which takes the character; the diagram shows the key), and
    ctrl+f from anywhere: the app starts in the routing key, where `/` is part of a key."""

    def __init__(self, engine: Engine, ledger: Ledger) -> None:
        super().__init__()
        self.engine = engine
        self.ledger = ledger
        # Built up front and kept: the per-frame fan-out needs no queries (and works mid-teardown).
        self.status = StatusLine(id="status")
        self.filter_bar = FilterBar(id="filter-bar")
        self.canvas = DiagramCanvas(engine.topology, id="canvas")
        self.canvas.set_speed(engine.clock.speed)
        publishes = engine.watch_only("publishes nothing") is None
        self.lens = RoutingLens(engine.scenario, publishes=publishes, id="lens")
        self.lens.border_title = "routing lens"
        self.event_log = EventLog(ledger.routing_key, id="log")
        self.event_log.border_title = "event log"
        self.inspector = Inspector(ledger, id="inspector")
        self.editor = Editor(engine, self)
        """Topology edits from the diagram's keys and the palette, with their undo history."""

    def compose(self) -> ComposeResult:
        yield self.status
        yield self.filter_bar
        with Horizontal(id="panes"):
            with Vertical(id="main"):
                yield self.canvas
                with Horizontal(id="bottom"):
                    yield self.lens
                    yield self.event_log
            yield self.inspector
        yield KeyBar([*EDIT_RANK, *SCOPE_RANK, *FOOTER_RANK], id="keys")

    def on_mount(self) -> None:
        self.app.call_later(getattr(self.app, "refresh_status", lambda: None))

    def show_status(self, facts: StatusFacts) -> None:
        self.status.show(facts)

    def apply(self, events: Sequence[FlowEvent]) -> None:
        """One frame's batch: the ledger first, then every widget that shows it."""
        topology = self.ledger.topology
        self.ledger.feed_all(events)
        if self.ledger.topology is not topology:  # declared or deleted something: redraw the shape now
            self.canvas.show_topology(self.ledger.topology)
            self.lens.show_topology(self.ledger.topology)
        self.canvas.apply(events)
        self.event_log.add_events(events)
        self.inspector.events_arrived(events)

    def on_diagram_canvas_edit_requested(self, event: DiagramCanvas.EditRequested) -> None:
        self.editor.request(event.action, event.selection)

    def on_diagram_canvas_selection_changed(self, event: DiagramCanvas.SelectionChanged) -> None:
        """An open inspector follows the selected box (a closed one stays closed)."""
        selection = event.selection
        if self.inspector.display and selection is not None and selection.kind != "binding":
            self.inspect(selection.kind, selection.name)

    def action_open_filter(self) -> None:
        self.filter_bar.open()

    def on_filter_bar_changed(self, event: FilterBar.Changed) -> None:
        self.canvas.set_filter(event.text)

    def on_filter_bar_done(self, _event: FilterBar.Done) -> None:
        self.canvas.focus()

    def on_diagram_canvas_scope_changed(self, event: DiagramCanvas.ScopeChanged) -> None:
        self.filter_bar.show(event.facts)

    def show_log(self, show: bool) -> None:
        """Show or hide the event log (app.tcss reflows the rest into its room)."""
        self.set_class(not show, "-no-log")

    def inspect(self, kind: str, name: str) -> None:
        """Open the inspector on a message or a node."""
        inspector = self.inspector
        inspector.display = True
        self.add_class("-inspecting")  # on slim screens it then takes the diagram's place (app.tcss)
        inspector.target = (kind, name)
        inspector.render_target()

    def close_inspector(self) -> bool:
        """Hide the inspector; False when it was not open."""
        inspector = self.inspector
        if not inspector.display:
            return False
        inspector.display = False
        self.remove_class("-inspecting")
        if self.has_class("-slim"):
            self.lens.query_one("#routing-key").focus()  # the lens was hidden: type on where it was
        return True
