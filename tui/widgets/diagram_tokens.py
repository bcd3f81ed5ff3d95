"""Moving tokens: each message copy's journey as timed legs along wires, plus short flashes.

Plain Python (no Textual): positions are a pure function of the injected clock, so tests pin time.
A copy's legs run one after another (a delivery that arrives while the copy is still travelling to its
queue waits for it), and a wire carrying more than `WIRE_CAP` tokens bundles the rest into a "\u00d7N" count.
In a flood (`flood`) no copy is followed: each wire gets a few tokens per batch, the rest are counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from core.events import (
    Acked,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
)
from tui.widgets.diagram_layout import Cell, DiagramLayout, WireKey

WIRE_CAP = 6
"""Tokens animated at once on one wire; more become a bundle."""
MAX_LEGS = 400
"""Tokens animated at once on the whole canvas."""
CELLS_PER_SECOND = 40.0
MIN_LEG, MAX_LEG = 0.35, 1.1
FLASH_SECONDS = 0.7
HIT_TRAIL = 0.4
"""Seconds a moving token stays clickable where it just was: a click lands a reaction time after the
eye saw the token, and at 0.25x a token has moved on by then."""
MAX_LAG = 2.5
"""A copy never queues more than this (seconds of animation) behind real time; later legs then jump."""
FLOOD_TOKENS = 8
"""In a flood, the most tokens one batch starts on one wire (the rest join the wire's bundle count)."""


@dataclass(frozen=True)
class Leg:
    """A token moving along `wire` (backwards when `reverse`) from `start` for `duration` seconds."""

    msg: str
    wire: WireKey
    start: float
    duration: float
    role: str
    reverse: bool = False

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class Flash:
    """A glyph shown briefly where something ended: ✓ ack, ✗ drop, ↩ return, ↺ requeue.

    Mutable on purpose: a flash that would overlap the same glyph at the same place is stretched
    instead of stacked, so 2,000 acks a second stay one ✓, not 2,000 sprites.
    """

    msg: str
    glyph: str
    role: str
    anchor: tuple[str, str]
    """("exchange"|"queue"|"consumer"|"wire", name) — resolved to a cell against the current layout."""
    start: float
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Sprite:
    """What to draw this frame: a glyph at a cell, and the message it stands for."""

    x: int
    y: int
    glyph: str
    role: str
    msg: str


@dataclass
class Bundle:
    count: int = 0
    until: float = 0.0


@dataclass
class TokenBoard:
    """All moving tokens; `feed` events, ask `sprites(now)` each frame and `busy(now)` for the timer."""

    layout_ref: Callable[[], DiagramLayout]
    speed: float = 1.0
    animate: bool = True
    legs: list[Leg] = field(default_factory=list)
    flashes: list[Flash] = field(default_factory=list)
    bundles: dict[WireKey, Bundle] = field(default_factory=dict)
    busy_until: dict[tuple[str, str], float] = field(default_factory=dict)
    """(msg, queue) copy -> when its last scheduled leg ends."""
    holders: dict[tuple[str, str], str] = field(default_factory=dict)
    jumped: int = 0
    """Legs not animated because a cap was reached (counted in the wire's bundle instead)."""
    wire_cap: int = WIRE_CAP
    max_legs: int = MAX_LEGS
    on_wire: dict[WireKey, int] = field(default_factory=dict)
    """Legs per wire not yet pruned (kept as counts so a burst of thousands stays linear)."""
    shown_at: dict[tuple[str, str], float] = field(default_factory=dict)
    """(msg, queue) copy -> when its latest event shows in the counts."""
    _last_flash: dict[tuple[tuple[str, str], str], Flash] = field(default_factory=dict)
    _sweep_at: int = 4 * MAX_LEGS
    node_time: dict[tuple[str, str], float] = field(default_factory=dict)
    """("queue"|"consumer", name) -> when its latest copy event shows (state and depth wait for it)."""

    # -- scheduling ------------------------------------------------------------------------------
    def feed(self, events: Iterable[FlowEvent], now: float) -> list[float]:
        """Schedule the animation of each event; returns when each should show in the counts.

        Counts follow the tokens: a queue's count goes up when the token arrives, a consumer's
        ack count when the ✓ flashes. Per message copy and per node these times never go backwards.
        """
        return [self._feed(event, now) for event in events]

    def _feed(self, event: FlowEvent, now: float) -> float:
        m = event.msg or ""
        if isinstance(event, Delivered):
            self.holders[(m, event.queue)] = event.consumer
        if not self.animate:
            self._forget(event)
            return now
        match event:
            case Routed():
                t = now
                if not event.queues:
                    t = self._flash(m, "✗", "unroutable", ("exchange", event.exchange), now, (m, ""))
                ends = []
                for qn in event.queues:
                    source = event.exchange
                    if ("route", source, qn) not in self.layout_ref().wires and event.via_alternate:
                        source = event.via_alternate
                    wires = route_legs(self.layout_ref(), source, qn)  # each leg after the one before
                    ends.append([self._leg(m, wire, "token", now, (m, qn)) for wire in wires][-1][1])
                t = max([t, *ends])
                return self._shown(t, [(m, qn) for qn in event.queues], [("queue", q) for q in event.queues])
            case Returned():
                return self._flash(m, "↩", "returned", ("exchange", event.exchange), now, (m, ""))
            case Delivered():
                wire = ("consume", event.queue, event.consumer)
                t = self._leg(m, wire, "token", now, (m, event.queue))[0]
                return self._shown(
                    t, [(m, event.queue)], [("queue", event.queue), ("consumer", event.consumer)]
                )
            case Acked():
                t = self._flash(m, "✓", "ack", ("consumer", event.consumer), now, (m, event.queue))
                t = self._shown(t, [(m, event.queue)], [("queue", event.queue), ("consumer", event.consumer)])
                self._forget(event)
                return t
            case Rejected():
                copy = (m, event.queue)
                t = self._start(copy, now)
                if event.action == "drop":
                    t = self._flash(m, "✗", "dead", ("consumer", event.consumer), now, copy)
                return self._shown(t, [copy], [("queue", event.queue), ("consumer", event.consumer)])
            case Requeued():
                copy = (m, event.queue)
                holder = self.holders.pop(copy, None)
                nodes = [("queue", event.queue)]
                if holder is not None:
                    wire = ("consume", event.queue, holder)
                    t = self._leg(m, wire, "requeue", now, copy, reverse=True)[1]
                    nodes.append(("consumer", holder))
                else:
                    t = self._flash(m, "↺", "requeue", ("queue", event.queue), now, copy)
                return self._shown(t, [copy], nodes)
            case DeadLettered():
                self.holders.pop((m, event.queue), None)
                copy = (m, event.queue)
                if event.exchange and ("dead", event.queue, event.exchange) in self.layout_ref().wires:
                    t = self._leg(m, ("dead", event.queue, event.exchange), "dead", now, copy)[1]
                else:
                    t = self._flash(m, "☠", "dead", ("queue", event.queue), now, copy)
                after = max(t, self.busy_until.pop(copy, now))
                for qn in event.queues:
                    self.busy_until[(m, qn)] = max(after, self.busy_until.get((m, qn), now))
                    t = max(t, self._leg(m, ("route", event.exchange, qn), "dead", now, (m, qn))[1])
                copies = [copy, *((m, qn) for qn in event.queues)]
                return self._shown(t, copies, [("queue", q) for q in (event.queue, *event.queues)])
            case Expired():
                t = self._flash(m, "⌛", "muted", ("queue", event.queue), now, (m, event.queue))
                return self._shown(t, [(m, event.queue)], [("queue", event.queue)])
            case Dropped():
                t = self._flash(m, "✗", "dead", ("queue", event.queue), now, (m, event.queue))
                t = self._shown(t, [(m, event.queue)], [("queue", event.queue)])
                self._forget(event)
                return t
            case ConsumerState():
                return max(now, self.node_time.get(("consumer", event.consumer), now))
            case QueueDepth():
                return max(now, self.node_time.get(("queue", event.queue), now))
            case _:
                return now

    def flood(self, events: Iterable[FlowEvent], now: float) -> None:
        """A batch too big to follow copy by copy: start at most FLOOD_TOKENS tokens per wire now and
        count the rest in the wire's bundle; one flash per node and glyph. No per-copy state is kept
        (the canvas shows the counts at once), so the work per event is a dict update, not a journey."""
        if not self.animate:
            return
        self._forget_copies()
        wires: dict[tuple[WireKey, str, bool], list[str]] = {}
        routes: dict[tuple[str, str, str | None], list[str]] = {}
        """(exchange, queue, alternate) -> copies routed: each pair's wire is looked up once a batch."""
        flashes: dict[tuple[tuple[str, str], str, str], str] = {}
        for event in events:
            m = event.msg or ""
            match event:
                case Routed(queues=()):
                    flashes[(("exchange", event.exchange), "✗", "unroutable")] = m
                case Routed():
                    for qn in event.queues:
                        routes.setdefault((event.exchange, qn, event.via_alternate), []).append(m)
                case Delivered():
                    wires.setdefault((("consume", event.queue, event.consumer), "token", False), []).append(m)
                case Acked():
                    flashes[(("consumer", event.consumer), "✓", "ack")] = m
                case Rejected(action="drop"):
                    flashes[(("consumer", event.consumer), "✗", "dead")] = m
                case Requeued():
                    flashes[(("queue", event.queue), "↺", "requeue")] = m
                case DeadLettered():
                    flashes[(("queue", event.queue), "☠", "dead")] = m
                case Returned():
                    flashes[(("exchange", event.exchange), "↩", "returned")] = m
                case Expired():
                    flashes[(("queue", event.queue), "⌛", "muted")] = m
                case Dropped():
                    flashes[(("queue", event.queue), "✗", "dead")] = m
        layout = self.layout_ref()
        for (source, qn, alternate), msgs in routes.items():
            if ("route", source, qn) not in layout.wires and alternate:
                source = alternate
            last = route_legs(layout, source, qn)[-1]  # the wire into the queue (after any links)
            wires.setdefault((last, "token", False), []).extend(msgs)
        for (wire, role, reverse), msgs in wires.items():
            for m in msgs[:FLOOD_TOKENS]:
                self._leg(m, wire, role, now, (m, ""), reverse)
            if len(msgs) > FLOOD_TOKENS:
                self._bundle(wire, len(msgs) - FLOOD_TOKENS, now, now + MAX_LEG / self.speed)
        for (anchor, glyph, role), m in flashes.items():
            self._flash(m, glyph, role, anchor, now, (m, ""))
        self.busy_until.clear()  # the flood's tokens follow no copy: nothing may wait for them

    def _forget_copies(self) -> None:
        """Per-copy and per-node ordering starts afresh: the counts no longer wait for tokens."""
        self.busy_until.clear()
        self.shown_at.clear()
        self.node_time.clear()
        self.holders.clear()

    def _bundle(self, wire: WireKey, count: int, now: float, until: float) -> None:
        bundle = self.bundles.setdefault(wire, Bundle())
        bundle.count = bundle.count + count if bundle.until > now else count
        bundle.until = max(bundle.until, until)
        self.jumped += count

    def _shown(self, t: float, copies: list[tuple[str, str]], nodes: list[tuple[str, str]]) -> float:
        """Never earlier than what was already shown for the same copies or nodes.

        Per node order matters too: a broker depth report must land after every event before it.
        """
        t = max([t, *(self.shown_at.get(c, t) for c in copies), *(self.node_time.get(n, t) for n in nodes)])
        for c in copies:
            self.shown_at[c] = t
        for n in nodes:
            self.node_time[n] = max(t, self.node_time.get(n, t))
        return t

    def _forget(self, event: FlowEvent) -> None:
        if isinstance(event, Acked | Dropped) or (isinstance(event, Rejected) and event.action == "drop"):
            queue = getattr(event, "queue", "")
            self.holders.pop((event.msg or "", queue), None)
            self.busy_until.pop((event.msg or "", queue), None)

    def _start(self, copy: tuple[str, str], now: float) -> float:
        start = max(now, self.busy_until.get(copy, now))
        return now if start - now > MAX_LAG / self.speed else start

    def _leg(
        self, msg: str, wire: WireKey, role: str, now: float, copy: tuple[str, str], reverse: bool = False
    ) -> tuple[float, float]:
        """Schedule one token along `wire` after the copy's previous leg; returns (start, end)."""
        found = self.layout_ref().wires.get(wire)
        start = self._start(copy, now)
        if found is None:
            return start, start
        duration = min(MAX_LEG, max(MIN_LEG, len(found.path) / CELLS_PER_SECOND)) / self.speed
        if self.on_wire.get(wire, 0) >= self.wire_cap or len(self.legs) >= self.max_legs:
            self._bundle(wire, 1, now, start + duration)
            return start, start
        self.legs.append(Leg(msg, wire, start, duration, role, reverse))
        self.on_wire[wire] = self.on_wire.get(wire, 0) + 1
        self.busy_until[copy] = start + duration
        return start, start + duration

    def _flash(
        self, msg: str, glyph: str, role: str, anchor: tuple[str, str], now: float, copy: tuple[str, str]
    ) -> float:
        start = self._start(copy, now)
        duration = FLASH_SECONDS / self.speed
        key = (anchor, glyph)
        last = self._last_flash.get(key)
        if last is not None and last.start <= start <= last.end:
            last.msg = msg
            last.duration = max(last.end, start + duration) - last.start
            return start
        flash = Flash(msg, glyph, role, anchor, start, duration)
        self.flashes.append(flash)
        self._last_flash[key] = flash
        if len(self.flashes) > self.max_legs:
            del self.flashes[: len(self.flashes) - self.max_legs]
        return start

    def set_speed(self, speed: float) -> None:
        self.speed = max(0.05, float(speed))

    def clear(self) -> None:
        self.shown_at.clear()
        self.node_time.clear()
        self.legs.clear()
        self.on_wire.clear()
        self.flashes.clear()
        self._last_flash.clear()
        self.bundles.clear()
        self.busy_until.clear()

    # -- reading ---------------------------------------------------------------------------------
    def prune(self, now: float) -> None:
        """Drop what has finished (legs, flashes, bundles)."""
        if any(leg.end <= now for leg in self.legs):
            for leg in self.legs:
                if leg.end <= now:
                    self.on_wire[leg.wire] -= 1
            self.legs = [leg for leg in self.legs if leg.end > now]
        if any(f.end <= now for f in self.flashes):
            self.flashes = [f for f in self.flashes if f.end > now]
        for wire in [w for w, b in self.bundles.items() if b.until <= now]:
            del self.bundles[wire]
        # Per-copy times are kept while they lie ahead; sweep the past ones out now and then (the
        # threshold grows with what survives, so a busy stream does not sweep every frame).
        if len(self.busy_until) + len(self.shown_at) > self._sweep_at:
            self.busy_until = {copy: t for copy, t in self.busy_until.items() if t > now}
            self.shown_at = {copy: t for copy, t in self.shown_at.items() if t > now}
            self._sweep_at = max(4 * self.max_legs, 2 * (len(self.busy_until) + len(self.shown_at)))

    def busy(self, now: float) -> bool:
        """True while anything is moving, flashing or pending: the frame timer runs only then."""
        return (
            any(leg.end > now for leg in self.legs)
            or any(f.end > now for f in self.flashes)
            or any(b.until > now for b in self.bundles.values())
        )

    @property
    def moving(self) -> int:
        return len(self.legs)

    def sprites(self, now: float) -> list[Sprite]:
        """Every token and flash visible at `now`, placed on the current layout."""
        layout = self.layout_ref()
        out: list[Sprite] = []
        for leg in self.legs:
            if not leg.start <= now < leg.end:
                continue
            wire = layout.wires.get(leg.wire)
            if wire is None:
                continue
            frac = (now - leg.start) / leg.duration
            i = min(len(wire.path) - 1, int(frac * len(wire.path)))
            x, y = wire.path[len(wire.path) - 1 - i if leg.reverse else i]
            out.append(Sprite(x, y, "●", leg.role, leg.msg))
        for f in self.flashes:
            if f.start <= now < f.end and (cell := flash_cell(layout, f.anchor)) is not None:
                out.append(Sprite(cell[0], cell[1], f.glyph, f.role, f.msg))
        return out

    def token_near(self, now: float, x: int, y: int) -> str | None:
        """The message whose token is at or next to (x, y) (any of the 8 neighbours), or was there
        within the last HIT_TRAIL seconds: a moving token is a small target, and by the time a click
        lands it has moved on. The closest wins; among equals, the one there most recently."""
        layout = self.layout_ref()
        best: tuple[int, float, str] | None = None
        for leg in self.legs:
            if not leg.start <= now < leg.end + HIT_TRAIL:
                continue
            wire = layout.wires.get(leg.wire)
            if wire is None:
                continue
            last = self._index(leg, len(wire.path), min(now, leg.end - 1e-9))
            first = self._index(leg, len(wire.path), max(leg.start, now - HIT_TRAIL))
            for i in range(first, last + 1):
                cx, cy = wire.path[len(wire.path) - 1 - i if leg.reverse else i]
                near = max(abs(cx - x), abs(cy - y))
                if near <= 1:
                    age = max(0.0, now - (leg.start + i * leg.duration / len(wire.path)))
                    candidate = (near, age, leg.msg)
                    if best is None or candidate[:2] < best[:2]:
                        best = candidate
        for f in self.flashes:
            if f.start <= now < f.end and (cell := flash_cell(layout, f.anchor)) is not None:
                near = max(abs(cell[0] - x), abs(cell[1] - y))
                if near <= 1 and (best is None or (near, 0.0) < best[:2]):
                    best = (near, 0.0, f.msg)
        return best[2] if best is not None else None

    @staticmethod
    def _index(leg: Leg, cells: int, at: float) -> int:
        """The path index a leg's token is drawn at, at time `at` (the same rule as `sprites`)."""
        frac = (at - leg.start) / leg.duration
        return max(0, min(cells - 1, int(frac * cells)))

    def bundle_labels(self, now: float) -> list[tuple[int, int, str]]:
        """(x, y, "\u00d7N") for every wire carrying a bundle: on a binding wire just before its queue
        (each queue has its own branch there), on other wires just after the queue they leave."""
        layout = self.layout_ref()
        out: list[tuple[int, int, str]] = []
        for key, bundle in self.bundles.items():
            wire = layout.wires.get(key)
            if wire is None or bundle.until <= now:
                continue
            text = f"\u00d7{bundle.count}"
            if wire.kind == "route":
                x, y = wire.path[max(0, len(wire.path) - 2 - len(text))]
            else:
                x, y = wire.path[min(len(wire.path) - 1, 1)]
            out.append((x, y, text))
        return out


def route_legs(layout: DiagramLayout, exchange: str, queue: str) -> list[WireKey]:
    """The wires a copy travels from `exchange` to `queue`: the route wire when the queue is bound to
    it, else the shortest way through exchange-to-exchange links to an exchange that is (the event
    names no path: when several are as short, the first link drawn), else the route wire anyway (no
    token: nothing on screen leads there)."""
    direct: WireKey = ("route", exchange, queue)
    if direct in layout.wires:
        return [direct]
    links: dict[str, list[str]] = {}
    for kind, source, destination in layout.wires:
        if kind == "link":
            links.setdefault(source, []).append(destination)
    paths: list[list[WireKey]] = [[]]
    seen = {exchange}
    while paths:
        path = paths.pop(0)
        at = path[-1][2] if path else exchange
        for nxt in links.get(at, []):
            if nxt in seen:
                continue
            seen.add(nxt)
            step = [*path, ("link", at, nxt)]
            if ("route", nxt, queue) in layout.wires:
                return [*step, ("route", nxt, queue)]
            paths.append(step)
    return [direct]


def flash_cell(layout: DiagramLayout, anchor: tuple[str, str]) -> Cell | None:
    """Where a flash shows: just right of an exchange, inside a queue's right end, left of a consumer."""
    kind, name = anchor
    if kind == "exchange" and (box := layout.exchanges.get(name)) is not None:
        return box.right, box.mid_y + 1
    if kind == "queue" and (box := layout.queues.get(name)) is not None:
        return box.right - 2, box.mid_y
    if kind == "consumer" and (box := layout.consumers.get(name)) is not None:
        return box.x - 1, box.mid_y
    return None
