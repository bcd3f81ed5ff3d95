"""The frame every editing form shares: a modal with its fields, a one-line reason under them, Save.

A form turns its fields into topology changes; the engine's own check (`Engine.topology_problem`:
the scenario file's rules, then core's change rules) judges them as the user types, and the reason
shows in place. Save hands the changes to `submit`, which makes them through the engine or returns
the reason it could not: the form stays open then, with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, SelectionList, Static, Switch

from core.errors import InputError
from core.topology_changes import TopologyChange
from tui.editing.fields import FormProblem
from tui.text import visible

Check = Callable[[Sequence[TopologyChange]], str | None]
"""Why these changes would be refused now, or None (the engine's dry run)."""
Submit = Callable[[str, Sequence[TopologyChange]], str | None]
"""Make the changes as one edit called `label`; the one-line reason when refused, else None."""


def _names_field(problem: str, field: str) -> bool:
    """Whether the reason is about `field` (its scenario name as a whole word: `routing_key` is not
    named by `dead_letter_routing_key: ...`)."""
    return re.search(rf"(?<![\w-]){re.escape(field)}(?![\w-])", problem) is not None


class EditForm(ModalScreen[bool]):
    """A form for one entity; dismisses True once its edit is made, False on cancel."""

    DEFAULT_CSS = """
    EditForm {
        align: center middle;
        & > #form {
            width: 84;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $primary;
            border-title-style: bold;
            background: $surface;
            padding: 0 1;
        }
        & #fields {
            layout: grid;
            grid-size: 2;
            grid-columns: 35 1fr;
            grid-rows: auto;
            grid-gutter: 1 1;
            height: auto;
            margin-top: 1;
        }
        & .field-label { color: $text-muted; }
        & #problem { color: $error; height: auto; margin-top: 1; }
        & #buttons { height: auto; align-horizontal: right; margin-top: 1; }
        & #buttons Button { margin-left: 2; }
        & #fields Input, & #fields SelectCurrent { background: $panel; }
        & #fields Input.-invalid { background: $error 30%; }
        & SelectionList { height: auto; max-height: 8; border: none; padding: 0; }
        & Switch { border: none; height: 1; padding: 0; }
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, title: str, check: Check, submit: Submit) -> None:
        super().__init__()
        self.form_title = title
        self._check = check
        self._submit = submit
        self.problem: str | None = None
        """The reason shown under the fields now (None: the form is good)."""
        self._armed = False
        """Judged as the user types, not while the fields fill in (an empty form is not an error)."""

    def on_mount(self) -> None:
        self.call_after_refresh(self._arm)

    def _arm(self) -> None:
        self._armed = True

    # -- what a form defines ---------------------------------------------------------------------
    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def changes(self) -> list[TopologyChange]:
        """The edit the fields describe ([] when they change nothing); raises FormProblem or the
        scenario reader's ScenarioError with a one-line reason."""
        raise NotImplementedError

    def label(self) -> str:
        """What the edit is called in notifications and undo (e.g. `add queue 'reports'`)."""
        raise NotImplementedError

    # -- the frame ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form") as form:
            form.border_title = Content(visible(self.form_title))  # names are never markup
            with Grid(id="fields"):
                yield from self.fields()
            yield Static("", id="problem", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", compact=True, id="save")
                yield Button("Cancel", compact=True, id="cancel")

    @staticmethod
    def field(label: str, widget: Widget) -> ComposeResult:
        """A labelled field; the label is the scenario file's field name, as its errors call it."""
        yield Label(Text(label), classes="field-label")
        yield widget

    def judge(self) -> tuple[str | None, list[TopologyChange]]:
        """(the reason these fields are refused or None, the changes they make)."""
        try:
            changes = self.changes()
        except (FormProblem, InputError) as exc:
            return str(exc), []
        return (self._check(changes) if changes else None), changes

    def show_problem(self, problem: str | None) -> None:
        self.problem = problem
        self.query_one("#problem", Static).update(Text(visible(problem or "")))
        self.set_class(problem is not None, "-invalid")
        for widget in self.query(Input):
            named = problem is not None and widget.id is not None and _names_field(problem, widget.id)
            widget.set_class(named, "-invalid")

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    @on(SelectionList.SelectedChanged)
    def _revalidate(self) -> None:
        if self._armed:
            self.show_problem(self.judge()[0])

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        problem, changes = self.judge()
        if problem is None and changes:
            problem = self._submit(self.label(), changes)
        if problem is not None:
            self.show_problem(problem)
            return
        self.dismiss(bool(changes))

    def action_cancel(self) -> None:
        self.dismiss(False)
