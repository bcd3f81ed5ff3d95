"""The diagram: one Line-API canvas that draws the topology, the counts and every moving token.

The still picture is painted once into cached Strips (diagram_paint); each frame only the rows that carry a
token are re-spliced. The frame timer runs only while something moves and never when
`app.animation_level == "none"` (tokens then jump straight to where they end up).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from core.events import FlowEvent
from core.ledger import Ledger
from core.topology import Topology
from tui.editing.keys import CANVAS_BINDINGS
from tui.editing.selection import Selection, find, mark, move, move_among_queues, spot_at
from tui.widgets.diagram_fold import paint_folds, without_folds
from tui.widgets.diagram_grid import Grid, token_role
from tui.widgets.diagram_layout import DiagramLayout, compute_layout
from tui.widgets.diagram_lens import Lens, lens_for
from tui.widgets.diagram_paint import paint, paint_wires
from tui.widgets.diagram_palette import diagram_styles
from tui.widgets.diagram_scope import Scope, ScopeFacts
from tui.widgets.diagram_scope_keys import SCOPE_BINDINGS
from tui.widgets.diagram_tokens import Sprite, TokenBoard
from tui.widgets.inspector import node_text

FRAME_SECONDS = 1 / 30
COUNTS_SECONDS = 0.1
"""While tokens move, counts repaint at most this often (they lag the tokens by less than this)."""
FLOOD_EVENTS = 600
"""A batch (one frame's events) above this many is a flood: tokens stop following each copy, a few per
wire stand for the rest (TokenBoard.flood) and the counts show at once, exact (benchmarks/NOTES.md)."""
FLOOD_HOLD_SECONDS = 1.0
"""A flood lasts until the batches stay under FLOOD_EVENTS this long: smaller batches from the faster
frames a flood makes would otherwise switch it off and on every other frame."""


class DiagramCanvas(ScrollView, can_focus=True):
    """Exchanges, bindings, queues and consumers, with every message drawn as a travelling token."""

    BINDINGS = [*CANVAS_BINDINGS, *SCOPE_BINDINGS]

    DEFAULT_CSS = """
    DiagramCanvas {
        width: 1fr;
        height: 1fr;
        background: $surface;
        color: $foreground;
    }
    """

    class NodeSelected(Message):
        """The user clicked an exchange, queue or consumer box."""

        def __init__(self, canvas: DiagramCanvas, kind: str, name: str) -> None:
            super().__init__()
            self.canvas = canvas
            self.kind = kind
            """One of: exchange, queue, consumer."""
            self.name = name

        @property
        def control(self) -> DiagramCanvas:
            return self.canvas

    class TokenSelected(Message):
        """The user clicked a token (moving, waiting in a queue, or in a consumer's hands)."""

        def __init__(self, canvas: DiagramCanvas, msg: str) -> None:
            super().__init__()
            self.canvas = canvas
            self.msg = msg

        @property
        def control(self) -> DiagramCanvas:
            return self.canvas

    class SelectionChanged(Message):
        """The selection moved (keys or a click); `selection` is None when nothing is selected."""

        def __init__(self, canvas: DiagramCanvas, selection: Selection | None) -> None:
            super().__init__()
            self.canvas = canvas
            self.selection = selection

        @property
        def control(self) -> DiagramCanvas:
            return self.canvas

    class EditRequested(Message):
        """An editing key was pressed on the diagram: add, edit, delete, undo or redo."""

        def __init__(self, canvas: DiagramCanvas, action: str, selection: Selection | None) -> None:
            super().__init__()
            self.canvas = canvas
            self.action = action
            self.selection = selection

        @property
        def control(self) -> DiagramCanvas:
            return self.canvas

    class MarkRequested(Message):
        """While marking (a lesson's predict step): space on a queue (`toggle`, with its name) or
        Enter (`commit`, no name)."""

        def __init__(self, canvas: DiagramCanvas, action: str, queue: str | None) -> None:
            super().__init__()
            self.canvas = canvas
            self.action = action
            """toggle or commit."""
            self.queue = queue

        @property
        def control(self) -> DiagramCanvas:
            return self.canvas

    class ScopeChanged(Message):
        """The filter, the focus or the folding changed what the diagram shows."""

        def __init__(self, canvas: DiagramCanvas, facts: ScopeFacts) -> None:
            super().__init__()
            self.canvas = canvas
            self.facts = facts

        @property
        def control(self) -> DiagramCanvas:
            return self.canvas

    def __init__(
        self,
        topology: Topology,
        *,
        clock: Callable[[], float] = time.monotonic,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.topology = topology
        self._clock = clock
        self.ledger = Ledger(topology, keep=0, stories=False)
        """What the diagram shows: the same fold as the app's ledger, fed when each token gets there
        (so the counts lag the app's by the animation); no records or stories, only counts."""
        self.scope = Scope()
        """What part of a big topology is shown: filter, focus, folded idle queues (diagram_scope)."""
        self.layout_geometry: DiagramLayout = compute_layout(self.shown_topology, 80, 24)
        self.board = TokenBoard(lambda: self.layout_geometry)
        self.lens: Lens | None = None
        self.selection: Selection | None = None
        """What the editing keys act on: drawn highlighted, moved with the arrows or a click."""
        self.marking = False
        """A lesson's predict step: the arrows move between queue boxes only, space asks to mark the
        selected queue, Enter to commit (MarkRequested), and the editing keys are off."""
        self._grid: Grid | None = None
        self._static: list[Strip | None] | None = None
        """Still rows for the current state; None means repaint (rows that did not change are reused).
        A row's Strip is built when it is first drawn (a big topology has hundreds of rows off screen)."""
        self._strips: list[Strip | None] = []
        self._wires: Grid | None = None
        """Titles, wires and labels: repainted only when the layout, the lens or the theme changes."""
        self._sprites: dict[int, list[Sprite]] | None = None
        self._styles: dict[str, Style] = {}
        self._timer: Timer | None = None
        self._pending: list[tuple[float, int, FlowEvent]] = []
        """Heap of (time, arrival order, event): counts change when the token gets there."""
        self._sequence = itertools.count()
        self._counts_dirty = False
        self._counts_painted = -math.inf
        self.lines_rendered = 0
        """render_line calls so far (benchmarks check that nothing renders at rest)."""
        self.static_builds = 0
        """Repaints of the still picture so far (tests check that nothing repaints needlessly)."""
        self.frames = 0
        """Frame-timer ticks so far."""
        self._drawn_static: dict[int, Strip] = {}
        """Row -> the still Strip it was last drawn with (to tell which rows a new count changed)."""
        self._drawn_with_sprites: set[int] = set()
        """Rows last drawn with a token or flash on them (they change when it moves on)."""
        self._flood_until = -math.inf
        self.flood_batches = 0
        """Batches drawn in flood mode so far (tests and benchmarks see the mode switch)."""

    # -- contract ------------------------------------------------------------------------------
    def apply(self, events: Sequence[FlowEvent]) -> None:
        """Fold one frame's batch of events into counts and tokens, then redraw once."""
        if not events:
            return
        now = self._clock()
        if self.scope.saw(events, now):  # a folded queue got traffic: draw it before its token moves
            self.rescope()
        self.board.animate = self._animated
        if len(events) > FLOOD_EVENTS:
            self._flood_until = now + FLOOD_HOLD_SECONDS
        if now < self._flood_until:
            self._apply_flood(events, now)
            return
        times = self.board.feed(events, now)
        if self.board.animate:
            for at, event in zip(times, events, strict=True):
                heapq.heappush(self._pending, (at, next(self._sequence), event))
            self._counts_changed(self._release(now), now)
        else:
            self._release(math.inf)
            self.ledger.feed_all(events)
            self._counts_changed(True, now)
        self._sprites = None
        self._ensure_timer(now)
        if self._timer is None:
            self._counts_changed(False, now, force=True)
            self.refresh()
        # else: the running frame timer repaints within 1/30 s, so a busy stream costs one render a frame.

    @property
    def flooded(self) -> bool:
        """True while batches come too fast to draw a token per message (see FLOOD_EVENTS)."""
        return self._clock() < self._flood_until

    def _apply_flood(self, events: Sequence[FlowEvent], now: float) -> None:
        """Counts at once (after what was waiting for its token, in order), a few tokens per wire."""
        self.flood_batches += 1
        self._release(math.inf)
        self.ledger.feed_all(events)
        self.board.flood(events, now)
        self._counts_changed(True, now)
        self._sprites = None
        self._ensure_timer(now)
        if self._timer is None:
            self._counts_changed(False, now, force=True)
            self.refresh()

    def show_topology(self, topology: Topology) -> None:
        """The topology changed while running: lay the boxes and wires out again at once (the
        counts follow with their events, through the delayed ledger)."""
        self.topology = topology
        self.lens = None  # the routing lens previews again against the new bindings
        self._lay_out_shown()
        if (facts := self.scope.facts(topology)).active:  # "8 of 200 queues" counts the new shape
            self.post_message(self.ScopeChanged(self, facts))

    def _lay_out_shown(self) -> None:
        """Lay out what is shown now (the topology or the scope changed); a selection no longer drawn
        (deleted, its binding moved, filtered or folded away) is dropped."""
        if self.is_mounted:
            self._relayout()
        else:
            self.layout_geometry = compute_layout(self.shown_topology, 80, 24)
        if self.selection is not None and find(self.layout_geometry, self.selection) is None:
            self.select(None)

    @property
    def shown_topology(self) -> Topology:
        """The part of the topology laid out: all of it unless filtered, focused or folded."""
        return self.scope.view(self.topology).topology

    def rescope(self) -> None:
        """The scope changed: lay out what it shows now, keep the selection if it is still drawn."""
        self._lay_out_shown()
        if self.is_mounted:
            self.call_after_refresh(self._keep_in_view)  # once the new size is known
        self.post_message(self.ScopeChanged(self, self.scope.facts(self.topology)))

    def set_speed(self, speed: float) -> None:
        """Slow motion: token travel time scales with 1/speed (already moving tokens keep theirs)."""
        self.board.set_speed(speed)

    def preview_route(
        self, exchange: str, routing_key: str | None, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Highlight what a message published to `exchange` with this key would reach; None clears."""
        # A preview posted just before a change that deleted its exchange arrives after it: no lens.
        lens = None
        if routing_key is not None and self.topology.exchange(exchange) is not None:
            lens = lens_for(self.topology, exchange, routing_key, headers)
        if lens != self.lens:
            self.lens = lens
            self._invalidate(wires=True)
            self.refresh()
            # After the refresh: the lens panel may have grown with this key, and the canvas shrunk.
            self.call_after_refresh(self._show_first_match)

    def _show_first_match(self) -> None:
        """Scroll the topmost queue the lens lights into view, if it is not (in a big topology the
        first match of a typed key may sit far below); the sideways scroll stays where it is."""
        queues = (
            self.lens.queues if self.lens is not None and self.lens.exchange else frozenset()
        )  # not marks
        boxes = [self.layout_geometry.queues[q] for q in queues if q in self.layout_geometry.queues]
        if boxes:
            box = min(boxes, key=lambda b: b.y)
            self.scroll_to_region(Region(self.scroll_offset.x, box.y, 1, box.h), animate=False)

    def show_marks(self, queues: Iterable[str]) -> None:
        """Light these queues as the routing lens would (a learner's prediction), and nothing else."""
        marked = frozenset(queues)
        self.lens = Lens("", "", frozenset(), marked, frozenset(), frozenset())
        self._invalidate(wires=True)
        self.refresh()

    # -- state -----------------------------------------------------------------------------------
    @property
    def _animated(self) -> bool:
        """Tokens move only on a mounted canvas in an app whose animation level is not "none"."""
        return self.is_mounted and self.app.animation_level != "none"

    @property
    def animating(self) -> bool:
        """True while the frame timer runs."""
        return self._timer is not None

    def _counts_changed(self, changed: bool, now: float, *, force: bool = False) -> None:
        """Repaint the still picture for new counts, at most every COUNTS_SECONDS while tokens move
        (a busy stream would otherwise repaint every box every frame); `force` paints now."""
        self._counts_dirty |= changed
        if self._counts_dirty and (force or now - self._counts_painted >= COUNTS_SECONDS):
            self._static = None
            self._counts_dirty = False
            self._counts_painted = now

    def _release(self, now: float) -> bool:
        """Feed the counts every event whose moment on screen has come; True when any was."""
        released = False
        while self._pending and self._pending[0][0] <= now:
            self.ledger.feed(heapq.heappop(self._pending)[2])
            released = True
        return released

    @property
    def pending(self) -> int:
        """Events waiting for their token to arrive before they show in the counts."""
        return len(self._pending)

    def _ensure_timer(self, now: float) -> None:
        if not self._animated:
            self.board.clear()
            if self._release(math.inf):
                self._static = None
                self.refresh()
            self._stop_timer()
            return
        if self._timer is None and (self.board.busy(now) or self._pending):
            self._timer = self.set_interval(FRAME_SECONDS, self._tick, name="diagram-frames")

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        self.frames += 1
        now = self._clock()
        self.board.prune(now)
        self._sprites = None
        still = not (self.board.busy(now) or self._pending) or not self._animated
        self._counts_changed(self._release(now if self._animated else math.inf), now, force=still)
        if still:
            self._stop_timer()
        elif not self.screen.is_active:
            return  # under a modal screen: keep time, skip the repaint
        self._refresh_changed()

    def _refresh_changed(self) -> None:
        """Repaint only the visible rows whose picture changed since they were drawn: a token moved
        onto or off them, or their still row (a count) changed. A whole-canvas refresh re-rendered and
        re-composited every row each frame, most of them as they were (benchmarks/NOTES.md)."""
        static = self._static_rows()
        top = self.scroll_offset.y
        visible = range(top, min(len(static), top + self.scrollable_content_region.height))
        drawn = self._drawn_static
        rows = {y for y in visible if static[y] is None or drawn.get(y) is not static[y]}
        rows.update(y for y in (self._drawn_with_sprites | self._sprite_rows().keys()) if y in visible)
        for start, count in _runs(sorted(rows)):
            self.refresh_lines(start, count)

    # -- geometry and styles ---------------------------------------------------------------------
    def on_mount(self) -> None:
        self._build_styles()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self._relayout()

    def on_unmount(self) -> None:
        self._stop_timer()

    def _theme_changed(self, _theme: object) -> None:
        self._restyle()
        # The canvas's own CSS colours ($surface, $foreground) update on the next refresh: again then.
        self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        self._build_styles()
        self._invalidate(wires=True)
        self._grid = None  # styles changed: no row may be reused
        self.refresh()

    def on_resize(self, _event: events.Resize) -> None:
        self._relayout()

    def _relayout(self) -> None:
        region = self.scrollable_content_region
        layout = compute_layout(self.shown_topology, max(1, region.width), max(1, region.height))
        self.layout_geometry = layout
        self.virtual_size = Size(layout.width, layout.height)
        self._invalidate(wires=True)
        self._sprites = None
        self.refresh()
        self.call_after_refresh(self._show_first_match)  # the boxes moved: keep the match in view

    def _build_styles(self) -> None:
        self._styles = diagram_styles(self.app.current_theme, self.rich_style)

    def _invalidate(self, *, wires: bool = False) -> None:
        self._static = None
        if wires:
            self._wires = None

    def _style(self, role: str) -> Style:
        """The style of a role; "fg@bg" combines a text role with a background role (cached)."""
        style = self._styles.get(role)
        if style is None and "@" in role:
            fg, _, bg = role.partition("@")
            style = self._styles[role] = self._style(fg) + self._style(bg)
        return style or self._styles.get("bg") or Style()

    # -- rendering -------------------------------------------------------------------------------
    def _static_rows(self) -> list[Strip | None]:
        if self._static is None:
            if not self._styles:
                self._build_styles()
            if self._wires is None:
                self._wires = paint_wires(self.layout_geometry, self.lens)
            old, old_strips = self._grid, self._strips
            folds = self.scope.view(self.topology).folds
            layout = without_folds(self.layout_geometry, folds)
            grid = self._grid = paint(layout, self.ledger, self.lens, self._wires)
            paint_folds(grid, self.layout_geometry, folds)
            mark(grid, self.layout_geometry, self.selection)
            same_shape = old is not None and old.width == grid.width and old.height == grid.height
            strips: list[Strip | None] = [None] * grid.height
            if same_shape and old is not None:
                for y in range(grid.height):
                    if old.chars[y] == grid.chars[y] and old.roles[y] == grid.roles[y]:
                        strips[y] = old_strips[y]  # an unchanged row keeps its Strip
            self._static = self._strips = strips
            self.static_builds += 1
        return self._static

    def _static_row(self, row: int) -> Strip:
        """Row `row` of the still picture as a Strip, built now if it has not been drawn yet."""
        strips = self._static_rows()
        strip = strips[row]
        if strip is None:
            grid = self._grid
            assert grid is not None  # _static_rows painted it
            segments = [Segment(text, self._style(role)) for text, role in grid.runs(row)]
            strip = strips[row] = Strip(segments, grid.width)
        return strip

    def _sprite_rows(self) -> dict[int, list[Sprite]]:
        if self._sprites is None:
            now = self._clock()
            rows: dict[int, list[Sprite]] = {}
            if self._animated:
                for sprite in self.board.sprites(now):
                    rows.setdefault(sprite.y, []).append(sprite)
                for x, y, text in self.board.bundle_labels(now):
                    for i, ch in enumerate(text):
                        rows.setdefault(y, []).append(Sprite(x + i, y, ch, "bundle", ""))
            self._sprites = rows
        return self._sprites

    def render_line(self, y: int) -> Strip:
        self.lines_rendered += 1
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.scrollable_content_region.width
        if not 0 <= row < len(self._static_rows()):
            return Strip.blank(width, self._style("bg"))
        strip = self._static_row(row)
        self._drawn_static[row] = strip
        sprites = self._sprite_rows().get(row)
        if sprites:
            strip = self._overlay(strip, sprites)
            self._drawn_with_sprites.add(row)
        else:
            self._drawn_with_sprites.discard(row)
        return strip.crop_extend(scroll_x, scroll_x + width, self._style("bg"))

    def _overlay(self, strip: Strip, sprites: list[Sprite]) -> Strip:
        """Splice one-cell token glyphs into a cached row (later sprites win a shared cell)."""
        length = strip.cell_length
        cells: dict[int, Segment] = {}
        for s in sprites:
            if 0 <= s.x < length:
                role = token_role(s.msg) if s.role == "token" else s.role
                cells[s.x] = Segment(s.glyph, self._style(role))
        if not cells:
            return strip
        cuts = sorted({c for x in cells for c in (x, x + 1)} | {length})
        out: list[Segment] = []
        start = 0
        for piece, cut in zip(Segment.divide(list(strip), cuts), cuts, strict=False):
            if start in cells and cut == start + 1:
                out.append(cells[start])
            else:
                out.extend(piece)
            start = cut
        return Strip(out, length)

    # -- mouse -----------------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x = offset.x + self.scroll_offset.x
        y = offset.y + self.scroll_offset.y
        msg = self.token_at(x, y)
        if msg is not None:
            self.post_message(self.TokenSelected(self, msg))
            return
        spot = spot_at(self.layout_geometry, x, y)
        if spot is not None:
            self.select(spot.selection)
        box = self.layout_geometry.box_at(x, y)
        if box is not None and box.name in self.scope.view(self.topology).folds:
            self.action_fold_idle()  # a fold is no queue to inspect: a click opens it
        elif box is not None:
            self.post_message(self.NodeSelected(self, box.kind, box.name))

    # -- selection -------------------------------------------------------------------------------
    def select(self, selection: Selection | None) -> None:
        """Select a box or binding (None: nothing), draw it, scroll it into view, and say so."""
        if selection == self.selection:
            return
        self.selection = selection
        self._invalidate()
        self._scroll_to_selection()
        self.refresh()
        self.post_message(self.SelectionChanged(self, selection))

    def _keep_in_view(self) -> None:
        """After a relayout: no scrolling past the end of a smaller diagram (ScrollView keeps the old
        offset), and the selection, wherever it moved, in view."""
        x, y = min(self.scroll_x, self.max_scroll_x), min(self.scroll_y, self.max_scroll_y)
        self.scroll_to(x, y, animate=False, immediate=True)
        self._scroll_to_selection()

    def _scroll_to_selection(self) -> None:
        spot = find(self.layout_geometry, self.selection)
        if spot is not None and self.is_mounted:
            box = self.layout_geometry.box_at(spot.x, spot.y)
            height = box.h if box is not None else 1
            self.scroll_to_region(Region(spot.x, spot.y, spot.width, height), animate=False)

    def action_move_selection(self, direction: str) -> None:
        if self.marking:
            self.select(move_among_queues(self.layout_geometry, self.selection, direction))
            return
        self.select(move(self.layout_geometry, self.selection, direction))

    def action_edit_request(self, action: str) -> None:
        if self.selection is not None and self.selection.name in self.scope.view(self.topology).folds:
            self.action_fold_idle()  # nothing to edit in a fold: the key opens it
            return
        self.post_message(self.EditRequested(self, action, self.selection))

    def action_activate(self) -> None:
        """Enter: commit the marks while marking, else edit the selection."""
        if self.marking:
            self.post_message(self.MarkRequested(self, "commit", None))
        else:
            self.action_edit_request("edit")

    def action_mark(self) -> None:
        """Space: mark or unmark the selected queue (only while marking)."""
        selection = self.selection
        if self.marking and selection is not None and selection.kind == "queue":
            self.post_message(self.MarkRequested(self, "toggle", selection.name))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While marking, a prediction changes no topology: the editing keys are off (and hidden)."""
        if action == "edit_request":
            return not self.marking
        if action == "mark":
            return self.marking
        return True

    # -- scope: filter, focus, fold (diagram_scope_keys) -------------------------------------------
    def set_filter(self, text: str) -> None:
        """Show only what `text` matches (a bad glob shows its error and changes nothing else)."""
        if text.strip() == self.scope.filter_text and self.scope.error is None:
            return  # the bar echoing what the canvas already shows
        if self.scope.set_filter(text):
            self.rescope()
        else:
            self.post_message(self.ScopeChanged(self, self.scope.facts(self.topology)))

    def action_focus_exchange(self) -> None:
        """f: only the selected exchange (or the selected queue's) and what it reaches; f again: all."""
        self._rescoped(self.scope.toggle_focus(self.topology, self.selection))

    def focus_on(self, exchange: str | None) -> None:
        """Show only `exchange` and what it reaches (None: everything again)."""
        self.scope.set_focus(exchange)
        self.rescope()

    def action_fold_idle(self) -> None:
        """i: fold idle queues into one box per exchange; i again unfolds them."""
        self._rescoped(self.scope.toggle_fold(self.ledger, self._clock()))

    def action_unscope(self) -> None:
        """Esc: unfocus, else clear the filter; else Esc is the app's (it closes the inspector)."""
        if not self.scope.widen():
            raise SkipAction()
        self.rescope()

    def _rescoped(self, notice: str | None) -> None:
        if notice is not None:
            self.notify(notice, markup=False)
        self.rescope()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Hovering a box explains it in a tooltip (plain Text: names are never markup)."""
        offset = event.get_content_offset(self)
        box = None
        if offset is not None:
            box = self.layout_geometry.box_at(
                offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
            )
        fold = None if box is None else self.scope.view(self.topology).folds.get(box.name)
        if fold is not None:
            self.tooltip = Text(fold.describe())
        else:
            self.tooltip = None if box is None else node_text(self.ledger, box.kind, box.name, recent=0)

    def token_at(self, x: int, y: int) -> str | None:
        """The message drawn at this diagram cell or one of its 8 neighbours (a moving token also where
        it just was), or waiting in a queue or a consumer's hands exactly here; None when none is."""
        if self._animated and (msg := self.board.token_near(self._clock(), x, y)) is not None:
            return msg
        self._static_rows()
        if self._grid is not None and (hit := self._grid.hits.get((x, y))) is not None:
            return hit[1]
        return None


def _runs(rows: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(first, count) of each run of consecutive numbers in sorted `rows`: one refresh region a run."""
    run: list[int] = []
    for y in rows:
        if run and y != run[-1] + 1:
            yield run[0], len(run)
            run = []
        run.append(y)
    if run:
        yield run[0], len(run)
