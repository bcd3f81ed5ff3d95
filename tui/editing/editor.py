"""The editor: turns the diagram's editing keys and the palette's commands into forms and edits.

Every edit goes through `Engine.change_topology_all` (origin "editor"), in order with the messages,
on whatever broker runs; the views follow its TopologyChanged events like any other. Each edit is
recorded with its inverse (worked out against the topology it was checked against), so undo and redo
are edits too, checked and refused in one line like the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand

from core.routing import Binding
from core.text import short
from core.topology import TopologyError
from core.topology_changes import TopologyChange, delete, queue_binding
from core.topology_undo import inverse
from tui.editing.chooser import AddChooser
from tui.editing.form import EditForm
from tui.editing.forms import BindingForm, ConsumerForm, ExchangeForm, QueueForm
from tui.editing.history import Edit, History
from tui.editing.selection import Selection
from tui.text import visible

if TYPE_CHECKING:
    from textual.screen import Screen

    from core.engine import Engine

ORIGIN = "editor"


class Editor:
    """Forms, deletes, undo and redo for one engine (a reset starts a fresh editor and history)."""

    def __init__(self, engine: Engine, screen: Screen[Any]) -> None:
        self.engine = engine
        self.screen = screen
        self.history = History()

    # -- requests ---------------------------------------------------------------------------------
    def request(self, action: str, selection: Selection | None) -> None:
        """An editing key pressed on the diagram."""
        match action:
            case "add":
                self.choose_add(selection)
            case "edit":
                self.edit(selection)
            case "delete":
                self.delete(selection)
            case "undo":
                self.undo()
            case "redo":
                self.redo()

    def choose_add(self, selection: Selection | None) -> None:
        def chosen(kind: str | None) -> None:
            if kind is not None:
                self.add(kind, selection)

        self.screen.app.push_screen(AddChooser(selection.kind if selection else None), chosen)

    def add(self, kind: str, selection: Selection | None = None) -> None:
        """Open the form that adds a `kind`, filled in from the selection where it fits."""
        topology = self.engine.topology
        check, submit = self.engine.topology_problem, self.submit
        exchange = queue = None
        if selection is not None:
            if selection.kind == "exchange":
                exchange = selection.name
            elif selection.kind in ("queue", "binding"):
                queue = selection.name
                exchange = selection.exchange or None
        form: EditForm
        match kind:
            case "exchange":
                form = ExchangeForm(topology, None, check, submit)
            case "queue":
                form = QueueForm(topology, None, check, submit, bind_to=exchange)
            case "binding":
                form = BindingForm(topology, None, check, submit, exchange=exchange, queue=queue)
            case _:
                form = ConsumerForm(topology, None, check, submit, queue=queue)
        self.screen.app.push_screen(form)

    def edit(self, selection: Selection | None) -> None:
        """Open the selected entity's form, filled in with what it is now."""
        if selection is None:
            self._say("select a box or a binding first (arrow keys or a click), or press a to add")
            return
        topology = self.engine.topology
        check, submit = self.engine.topology_problem, self.submit
        form: EditForm | None = None
        match selection.kind:
            case "exchange":
                if (ex := topology.exchange(selection.name)) is not None:
                    form = ExchangeForm(topology, ex, check, submit)
            case "queue":
                if (q := topology.queue(selection.name)) is not None:
                    form = QueueForm(topology, q, check, submit)
            case "consumer":
                if (c := topology.consumer(selection.name)) is not None:
                    form = ConsumerForm(topology, c, check, submit)
            case "binding":
                if (b := self.binding(selection)) is not None:
                    form = BindingForm(topology, b, check, submit)
        if form is None:
            self._say("the selection is gone: the topology changed under it", error=True)
            return
        self.screen.app.push_screen(form)

    def delete(self, selection: Selection | None) -> None:
        """Delete the selected entity (core's rules decide: a queue with consumers is refused)."""
        if selection is None:
            self._say("select a box or a binding first (arrow keys or a click)")
            return
        topology = self.engine.topology
        entity: Any = None
        match selection.kind:
            case "exchange":
                entity = topology.exchange(selection.name)
            case "queue":
                entity = topology.queue(selection.name)
            case "consumer":
                entity = topology.consumer(selection.name)
            case "binding":
                entity = self.binding(selection)
        if entity is None:
            self._say("the selection is gone: the topology changed under it", error=True)
            return
        change = delete(entity)
        label = (
            f"delete {change.kind} {change.name}"
            if change.kind == "binding"
            else f"delete {change.kind} {short(change.name)}"
        )
        if (problem := self.submit(label, [change])) is not None:
            self._say(problem, error=True)

    def binding(self, selection: Selection) -> Binding | None:
        """The binding a binding selection points at (None when it is no longer there)."""
        queue = self.engine.topology.queue(selection.name)
        if queue is None or not 0 <= selection.index < len(queue.bindings):
            return None
        spec = queue.bindings[selection.index]
        if spec.exchange != selection.exchange:
            return None
        return queue_binding(spec.exchange, queue.name, spec.routing_key, spec.arguments)

    # -- making edits -----------------------------------------------------------------------------
    def submit(self, label: str, changes: Sequence[TopologyChange]) -> str | None:
        """Make `changes` as one edit and record it; the one-line reason when the engine refuses."""
        try:
            before = self.engine.change_topology_all(changes, origin=ORIGIN)
        except TopologyError as exc:
            return str(exc)
        self.history.record(Edit(label, tuple(changes), tuple(inverse(before, changes))))
        self._say(label)
        return None

    def undo(self) -> None:
        edit = self.history.next_undo()
        if edit is None:
            self._say("nothing to undo")
            return
        if self._make(edit.backward, f"cannot undo {edit.label}"):
            self.history.undid()
            self._say(f"undone: {edit.label}")

    def redo(self) -> None:
        edit = self.history.next_redo()
        if edit is None:
            self._say("nothing to redo")
            return
        if self._make(edit.forward, f"cannot redo {edit.label}"):
            self.history.redid()
            self._say(f"redone: {edit.label}")

    def _make(self, changes: Sequence[TopologyChange], failure: str) -> bool:
        try:
            self.engine.change_topology_all(changes, origin=ORIGIN)
        except TopologyError as exc:
            self._say(f"{failure}: {exc}", error=True)
            return False
        return True

    def _say(self, text: str, *, error: bool = False) -> None:
        self.screen.app.notify(visible(text), severity="error" if error else "information", markup=False)

    # -- the command palette ----------------------------------------------------------------------
    def commands(self) -> Iterable[SystemCommand]:
        """Palette entries for every edit: add each kind, edit or delete each entity, undo, redo.
        (Help texts are read as markup by the palette: fixed sentences only, never a name.)"""
        for kind in ("exchange", "queue", "binding", "consumer"):
            yield SystemCommand(
                f"Add {kind}",
                f"open a form that adds a {kind} to the running broker",
                partial(self.add, kind, None),
            )
        yield SystemCommand(
            "Undo edit", "reverse the last topology edit (ctrl+z or u on the diagram)", self.undo
        )
        yield SystemCommand(
            "Redo edit", "make the last undone topology edit again (ctrl+y or r on the diagram)", self.redo
        )
        topology = self.engine.topology
        targets: list[tuple[str, Selection]] = []
        targets += [(f"exchange {e.name}", Selection("exchange", e.name)) for e in topology.exchanges]
        targets += [(f"queue {q.name}", Selection("queue", q.name)) for q in topology.queues]
        for q in topology.queues:
            for index, b in enumerate(q.bindings):
                targets.append(
                    (
                        f"binding {b.exchange} -> {q.name} {b.routing_key!r}",
                        Selection("binding", q.name, b.exchange, index),
                    )
                )
        targets += [(f"consumer {c.name}", Selection("consumer", c.name)) for c in topology.consumers]
        for title, selection in targets:
            yield SystemCommand(f"Edit {title}", "open its form", partial(self.edit, selection))
            yield SystemCommand(
                f"Delete {title}",
                "delete it from the running broker (undo declares it again)",
                partial(self.delete, selection),
            )
