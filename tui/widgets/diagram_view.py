"""Which part of a big topology the diagram shows: a name filter, a focused exchange and folded idle
queues, each turned into a smaller Topology that the layout lays out as it lays out any other.

Plain Python (no Textual), so it is tested without an app. The specs in a view are the topology's own
(a queue keeps all its bindings, so a binding's index still names the same binding for the editor);
the layout skips wires to what is not shown. A fold stands in for its queues as a queue of its own,
named so that no real queue has the name (`Fold.key`); the canvas paints it (diagram_fold).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from core.topology import BindingSpec, ConsumerSpec, ExchangeSpec, QueueSpec, Topology
from tui.editing.selection import Selection

GLOB_CHARACTERS = frozenset("*?[")
ELIDED = "…"
"""A fold's binding label: the bindings it stands for are not shown."""


class FilterError(ValueError):
    """A glob that cannot be matched as written; the message is one line saying where."""


Matcher = Callable[[str], bool]


def name_matcher(text: str) -> Matcher | None:
    """What the filter text matches: None for no filter (blank text); a case-insensitive substring
    match; or, when the text holds * ? or [, an fnmatch glob over the whole name. FilterError for a
    glob fnmatch would quietly read another way (an unclosed [ as a literal, z-a as nothing)."""
    text = text.strip()
    if not text:
        return None
    needle = text.casefold()
    if not GLOB_CHARACTERS & set(text):
        return lambda name: needle in name.casefold()
    _check_glob(needle)
    try:
        pattern = re.compile(fnmatch.translate(needle))
    except re.error as exc:  # fnmatch escapes what it cannot use: this would be a bug in the check
        raise FilterError(f"not a usable glob: {exc}") from exc
    return lambda name: pattern.match(name.casefold()) is not None


def _check_glob(pattern: str) -> None:
    """Every [ closes, and no range inside one runs backwards."""
    i = 0
    while i < len(pattern):
        if pattern[i] != "[":
            i += 1
            continue
        start = i
        j = i + 1
        if j < len(pattern) and pattern[j] == "!":
            j += 1
        if j < len(pattern) and pattern[j] == "]":  # a ] first in the set is a member
            j += 1
        while j < len(pattern) and pattern[j] != "]":
            j += 1
        if j >= len(pattern):
            raise FilterError(f"unclosed [ at character {start + 1}: close it with ]")
        members = pattern[start + 1 : j].lstrip("!")
        for k in range(1, len(members) - 1):
            low, dash, high = members[k - 1], members[k], members[k + 1]
            if dash == "-" and low > high:
                raise FilterError(f"the range {low}-{high} is empty: write it low to high")
        i = j + 1


@dataclass(frozen=True)
class Reach:
    """Names of the exchanges, queues and consumers a view keeps."""

    exchanges: frozenset[str] = frozenset()
    queues: frozenset[str] = frozenset()
    consumers: frozenset[str] = frozenset()

    def __and__(self, other: Reach) -> Reach:
        return Reach(
            self.exchanges & other.exchanges, self.queues & other.queues, self.consumers & other.consumers
        )


def reach(topology: Topology, exchanges: Iterable[str]) -> Reach:
    """Everything a message published to `exchanges` can get to: the queues bound to them, the
    exchanges bound to them (exchange-to-exchange) and their alternate exchanges, on and on, the
    dead-letter exchanges of those queues (and what they reach), and the consumers of those queues."""
    table = topology.binding_table  # bindings by source: no scan of every queue per exchange
    dead_letter = {q.name: q.dead_letter_exchange for q in topology.queues}
    seen_ex: set[str] = set()
    seen_q: set[str] = set()
    todo = [e for e in exchanges if table.exchange(e) is not None]
    while todo:
        name = todo.pop()
        if name in seen_ex:
            continue
        seen_ex.add(name)
        entry = table.exchange(name)
        if entry is not None and entry.alternate:
            todo.append(entry.alternate)
        for binding in table.bindings_from(name):
            if binding.destination_kind == "exchange":
                todo.append(binding.destination)
            elif binding.destination not in seen_q:
                seen_q.add(binding.destination)
                dlx = dead_letter.get(binding.destination)
                if dlx and table.exchange(dlx) is not None:
                    todo.append(dlx)
    return Reach(frozenset(seen_ex), frozenset(seen_q), _consumers_of(topology, seen_q))


def _consumers_of(topology: Topology, queues: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset(c.name for c in topology.consumers if queues.intersection(c.queues))


def sources(topology: Topology, queues: Iterable[str]) -> frozenset[str]:
    """The exchanges that route to `queues`: those bound to them, and the exchanges that feed those
    (exchange-to-exchange), on and on."""
    found: set[str] = set()
    todo = [b.exchange for q in queues if (spec := topology.queue(q)) for b in spec.bindings]
    while todo:
        name = todo.pop()
        if name in found or (spec_ex := topology.exchange(name)) is None:
            continue
        found.add(name)
        todo.extend(b.exchange for b in spec_ex.bindings)
    return frozenset(found)


def matching(topology: Topology, matches: Matcher) -> Reach:
    """What a filter shows: queues whose names match, the exchanges that route to them and their
    consumers; an exchange that matches with what it reaches; a consumer that matches with its queues
    (and their exchanges)."""
    queues = {q.name for q in topology.queues if matches(q.name)}
    for c in topology.consumers:
        if matches(c.name):
            queues.update(q for q in c.queues if topology.queue(q) is not None)
    hit_exchanges = [e.name for e in topology.exchanges if matches(e.name)]
    reached = reach(topology, hit_exchanges)
    exchanges = set(sources(topology, queues)) | reached.exchanges
    consumers = {c.name for c in topology.consumers if matches(c.name)} | _consumers_of(topology, queues)
    return Reach(
        frozenset(exchanges), frozenset(queues) | reached.queues, frozenset(consumers) | reached.consumers
    )


@dataclass(frozen=True)
class Fold:
    """Idle queues shown as one box: those bound to `exchange` ("" for those with none shown)."""

    key: str
    """The name the fold's box has in the layout (no queue of the topology has it)."""
    exchange: str
    queues: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"+{len(self.queues)} idle"

    def describe(self, most: int = 12) -> str:
        """What the fold holds, for its tooltip: the first `most` names, then how many more."""
        where = f" bound to {self.exchange}" if self.exchange else ""
        names = ", ".join(self.queues[:most])
        more = f", and {len(self.queues) - most} more" if len(self.queues) > most else ""
        return f"{len(self.queues)} idle queues{where} (i unfolds): {names}{more}"


@dataclass(frozen=True)
class View:
    """A topology cut down for the diagram, with what it says about itself."""

    topology: Topology
    shown_queues: int
    """Real queues shown or folded (the filter's and focus's count, folds included)."""
    total_queues: int
    folds: dict[str, Fold] = field(default_factory=dict)
    """Fold key -> fold."""


def view_of(
    topology: Topology,
    matches: Matcher | None = None,
    focus: str | None = None,
    idle: frozenset[str] = frozenset(),
) -> View:
    """The topology as the diagram shows it: restricted to what `focus` reaches, then to what the
    filter `matches`, then each exchange's idle queues (two or more of them) folded into one box."""
    keep: Reach | None = None
    if focus is not None and topology.exchange(focus) is not None:
        keep = reach(topology, [focus])
    if matches is not None:
        found = matching(topology, matches)
        keep = found if keep is None else keep & found
    if keep is None:
        exchanges, queues, consumers = topology.exchanges, topology.queues, topology.consumers
    else:
        exchanges = tuple(e for e in topology.exchanges if e.name in keep.exchanges)
        queues = tuple(q for q in topology.queues if q.name in keep.queues)
        consumers = tuple(c for c in topology.consumers if c.name in keep.consumers)
    shown = len(queues)
    folds: dict[str, Fold] = {}
    if idle:
        queues, folds = _fold(topology, exchanges, queues, idle)
    if keep is None and not folds:
        return View(topology, shown, len(topology.queues))  # all of it: the topology itself
    cut = Topology(exchanges=exchanges, queues=queues, consumers=_consumers_in(consumers, queues))
    return View(cut, shown, len(topology.queues), folds)


def _consumers_in(
    consumers: tuple[ConsumerSpec, ...], queues: tuple[QueueSpec, ...]
) -> tuple[ConsumerSpec, ...]:
    """Consumers that still have a queue on show (one whose queues all folded goes with them)."""
    names = {q.name for q in queues}
    return tuple(c for c in consumers if names.intersection(c.queues))


def _fold(
    topology: Topology,
    exchanges: tuple[ExchangeSpec, ...],
    queues: tuple[QueueSpec, ...],
    idle: frozenset[str],
) -> tuple[tuple[QueueSpec, ...], dict[str, Fold]]:
    """Replace each group of idle queues (grouped by the first shown exchange they are bound to) by
    one stand-in queue where the group's first member stood; a group of one stays as it is."""
    shown_ex = {e.name: e for e in exchanges}
    groups: dict[str, list[str]] = {}
    for q in queues:
        if q.name in idle:
            exchange = next((b.exchange for b in q.bindings if b.exchange in shown_ex), "")
            groups.setdefault(exchange, []).append(q.name)
    groups = {ex: names for ex, names in groups.items() if len(names) > 1}
    taken = {q.name for q in topology.queues}
    first = {names[0]: ex for ex, names in groups.items()}
    folded = {name for names in groups.values() for name in names}
    out: list[QueueSpec] = []
    folds: dict[str, Fold] = {}
    for q in queues:
        if q.name in first:
            exchange = first[q.name]
            key = _free_name(f"+{len(groups[exchange])} idle · {exchange or 'unbound'}", taken)
            taken.add(key)
            folds[key] = Fold(key, exchange, tuple(groups[exchange]))
            out.append(QueueSpec(key, _stand_in_bindings(shown_ex.get(exchange))))
        elif q.name not in folded:
            out.append(q)
    return tuple(out), folds


def _stand_in_bindings(exchange: ExchangeSpec | None) -> tuple[BindingSpec, ...]:
    """A fold's wire from its exchange, labelled "…" (a headers label is its x-match word)."""
    if exchange is None:
        return ()
    if exchange.type == "headers":
        return (BindingSpec(exchange.name, "", {"x-match": ELIDED}),)
    return (BindingSpec(exchange.name, ELIDED),)


def _free_name(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "'"
    return name


def exchange_of(topology: Topology, selection: Selection | None) -> str | None:
    """The exchange `f` focuses on: the selected one, a selected binding's, or the first exchange a
    selected queue (or a selected consumer's first queue) is bound to; None when there is none."""
    if selection is None:
        return None
    if selection.kind == "exchange":
        return selection.name if topology.exchange(selection.name) is not None else None
    if selection.kind == "binding":
        return selection.exchange if topology.exchange(selection.exchange) is not None else None
    queue = selection.name
    if selection.kind == "consumer":
        consumer = topology.consumer(selection.name)
        queue = consumer.queues[0] if consumer is not None and consumer.queues else ""
    spec = topology.queue(queue)
    if spec is None:
        return None
    return next((b.exchange for b in spec.bindings if topology.exchange(b.exchange) is not None), None)
