"""What of the topology the diagram shows right now: the filter text, the focused exchange and the
folding of idle queues, with a watch over which queues are busy. The canvas asks it for the View to lay
out (diagram_view) and tells it about events; it remembers the last View until something changes.

Plain Python (no Textual): tests drive it with a Ledger and events, and a clock of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from core.events import DeadLettered, FlowEvent, QueueDepth, Routed
from core.ledger import Ledger
from core.topology import Topology
from tui.editing.selection import Selection
from tui.widgets.diagram_view import FilterError, Matcher, View, exchange_of, name_matcher, view_of

IDLE_SECONDS = 30.0
"""A queue with nothing ready or unacked and no copy through it for this long counts as idle."""


@dataclass(frozen=True)
class ScopeFacts:
    """What the filter bar says about the view (equal facts: nothing to redraw)."""

    filter: str
    error: str | None
    focus: str | None
    shown_queues: int
    total_queues: int
    folded: int
    """Idle queues folded away."""

    @property
    def active(self) -> bool:
        return bool(self.filter) or self.focus is not None or self.folded > 0


class Scope:
    """Filter, focus and fold over a topology; `view(topology)` is the part to draw."""

    def __init__(self) -> None:
        self.filter_text = ""
        self.error: str | None = None
        """Why the filter text is not a usable glob (the previous good filter stays in force)."""
        self._matcher: Matcher | None = None
        self.focus: str | None = None
        self.folding = False
        self._folded: frozenset[str] = frozenset()
        """Queues folded when `i` was pressed, less those that got traffic since."""
        self._busy_at: dict[str, float] = {}
        """Queue -> when a copy last went in, out or through it (the watch behind "idle")."""
        self._cache: tuple[Topology, View] | None = None

    # -- what the user asks for ------------------------------------------------------------------
    def set_filter(self, text: str) -> bool:
        """Filter by `text`; False (with `error` set) for a bad glob, which changes nothing shown."""
        try:
            matcher = name_matcher(text)
        except FilterError as exc:
            self.error = str(exc)
            return False
        self.filter_text, self.error, self._matcher = text.strip(), None, matcher
        self._cache = None
        return True

    def set_focus(self, exchange: str | None) -> None:
        self.focus = exchange
        self._cache = None

    def fold(self, ledger: Ledger, now: float) -> None:
        """Fold the queues idle now (nothing ready or unacked, no traffic for IDLE_SECONDS)."""
        self.folding = True
        self._folded = self.idle(ledger, now)
        self._cache = None

    def unfold(self) -> None:
        self.folding = False
        self._folded = frozenset()
        self._cache = None

    # -- the keys ----------------------------------------------------------------------------------
    def toggle_focus(self, topology: Topology, selection: Selection | None) -> str | None:
        """f: unfocus, else focus on the exchange the selection means; what to tell the user, if any."""
        fold = self.view(topology).folds.get(selection.name) if selection is not None else None
        if self.focus is not None:
            self.set_focus(None)
        elif fold is not None and fold.exchange:  # a "+N idle" box: the exchange its queues are bound to
            self.set_focus(fold.exchange)
        elif (exchange := exchange_of(topology, selection)) is None:
            return "select an exchange (or a queue) to focus on"
        else:
            self.set_focus(exchange)
        return None

    def toggle_fold(self, ledger: Ledger, now: float) -> str | None:
        """i: unfold, else fold what is idle now; what to tell the user, if any."""
        if self.folding:
            self.unfold()
            return None
        self.fold(ledger, now)
        if not self.view(ledger.topology).folds:
            return "no idle queues to fold (two or more on one exchange)"
        return None

    def widen(self) -> bool:
        """Esc: unfocus, else clear the filter; False when there was neither (Esc is someone else's)."""
        if self.focus is not None:
            self.set_focus(None)
        elif self.filter_text:
            self.set_filter("")
        else:
            return False
        return True

    # -- what the broker does --------------------------------------------------------------------
    def saw(self, events: Iterable[FlowEvent], now: float) -> bool:
        """Note the queues these events touch; True when one of them was folded (it unfolds: a queue
        that gets traffic is no longer idle)."""
        touched: set[str] = set()
        for event in events:
            if isinstance(event, Routed):
                touched.update(event.queues)
            elif isinstance(event, DeadLettered):
                touched.update(event.queues)
                touched.add(event.queue)
            elif isinstance(event, QueueDepth):  # a broker's depth report: busy only when not empty
                if event.ready or event.unacked:
                    touched.add(event.queue)
            elif isinstance(queue := getattr(event, "queue", None), str):
                touched.add(queue)
        for queue in touched:
            self._busy_at[queue] = now
        woke = self._folded & touched
        if not woke:
            return False
        self._folded -= woke
        shown = self._cache[1].folds.values() if self._cache is not None else ()
        if self._cache is not None and not any(woke.intersection(f.queues) for f in shown):
            return False  # idle but never folded (alone on its exchange): the view stays as it is
        self._cache = None
        return True

    def idle(self, ledger: Ledger, now: float) -> frozenset[str]:
        """Queues with no ready and no unacked copies and no traffic in the last IDLE_SECONDS."""
        out = set()
        for q in ledger.topology.queues:
            counts = ledger.queues.get(q.name)
            if counts is not None and (counts.ready or counts.unacked):
                continue
            if now - self._busy_at.get(q.name, -math.inf) >= IDLE_SECONDS:
                out.add(q.name)
        return frozenset(out)

    # -- what to draw ----------------------------------------------------------------------------
    def view(self, topology: Topology) -> View:
        """The part of `topology` to lay out (the same View object until the topology or the scope
        changes, so an unchanged scope costs nothing)."""
        if self._cache is not None and self._cache[0] is topology:
            return self._cache[1]
        if self.focus is not None and topology.exchange(self.focus) is None:
            self.focus = None  # the focused exchange was deleted: show everything again
        if self._cache is not None and self._cache[0] is not topology:  # forget deleted queues
            names = {q.name for q in topology.queues}
            self._busy_at = {q: at for q, at in self._busy_at.items() if q in names}
        view = view_of(topology, self._matcher, self.focus, self._folded)
        self._cache = (topology, view)
        return view

    def facts(self, topology: Topology) -> ScopeFacts:
        view = self.view(topology)
        folded = sum(len(f.queues) for f in view.folds.values())
        return ScopeFacts(
            self.filter_text, self.error, self.focus, view.shown_queues, view.total_queues, folded
        )
