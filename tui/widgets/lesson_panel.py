"""The lesson panel: the step's text, its task and the learner's keys. It shows what the app tells it
and posts what the learner did; the app (tui/lesson_app.py) keeps the lesson's state and decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

Move = Literal["prev", "next", "toggle", "commit", "forward", "back", "restart"]


@dataclass(frozen=True)
class PanelView:
    """Everything the panel shows for one moment of a step (plain Text: never markup)."""

    head: Text
    text: Text
    task: Text
    hint: Text
    answer_field: bool = False
    """Show the input a route step is answered in."""
    placeholder: str = ""


class LessonPanel(Vertical, can_focus=True):
    """Step n of m, the text to read, the task (queues to mark, the reveal, the narration) and keys."""

    DEFAULT_CSS = """
    LessonPanel {
        height: auto;
        max-height: 50%;
        border-top: solid $accent;
        border-title-color: $accent;
        padding: 0 1;
        & #lesson-head { height: 1; text-style: bold; }
        & #lesson-text { height: auto; margin-bottom: 1; }
        & #lesson-scroll { height: auto; max-height: 14; }
        & #lesson-task { height: auto; }
        & #lesson-answer { display: none; }
        & #lesson-answer.-shown { display: block; }
        & #lesson-hint { height: auto; color: $text-muted; }
    }
    LessonPanel:focus-within { border-top: heavy $accent; }
    """

    BINDINGS = [
        Binding("up,left", "move('prev')", "previous queue", show=False),
        Binding("down,right", "move('next')", "next queue", show=False),
        Binding("space", "move('toggle')", "mark", show=False),
        Binding("enter", "move('commit')", "commit", show=False),
        Binding("n,pagedown", "move('forward')", "next step", show=False),
        Binding("b,pageup", "move('back')", "step back", show=False),
        Binding("r", "move('restart')", "restart lesson", show=False),
    ]

    @dataclass
    class Moved(Message):
        """The learner pressed one of the lesson's keys."""

        panel: LessonPanel
        move: Move

        @property
        def control(self) -> LessonPanel:
            return self.panel

    @dataclass
    class Answered(Message):
        """The learner submitted an answer to a route step."""

        panel: LessonPanel
        answer: str

        @property
        def control(self) -> LessonPanel:
            return self.panel

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-head", markup=False)
        yield Static(id="lesson-text", markup=False)
        with VerticalScroll(id="lesson-scroll"):
            yield Static(id="lesson-task", markup=False)
        yield Input(compact=True, id="lesson-answer")
        yield Static(id="lesson-hint", markup=False)

    def show(self, view: PanelView) -> None:
        self.query_one("#lesson-head", Static).update(view.head)
        self.query_one("#lesson-text", Static).update(view.text)
        self.query_one("#lesson-task", Static).update(view.task)
        self.query_one("#lesson-hint", Static).update(view.hint)
        field = self.query_one("#lesson-answer", Input)
        was_shown = field.has_class("-shown")
        field.set_class(view.answer_field, "-shown")
        field.placeholder = view.placeholder
        if view.answer_field and not was_shown:
            field.value = ""
            field.focus()
        elif not view.answer_field and was_shown:
            self.focus()

    def action_move(self, move: Move) -> None:
        self.post_message(self.Moved(self, move))

    @on(Input.Submitted, "#lesson-answer")
    def _answered(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Answered(self, event.value))
