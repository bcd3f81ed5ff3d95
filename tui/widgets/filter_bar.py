"""The filter bar above the diagram: `/` opens it, typing filters the boxes as you type, Enter keeps
the filter (and goes back to the diagram), Esc clears it. Beside the input, one line says what is
shown (`filter: orders (8 of 200 queues)`, a focus, folded idle queues) or why a glob is unusable.

Names and filter text are shown as plain Text, never read as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from tui.text import visible
from tui.widgets.diagram_scope import ScopeFacts


def scope_words(facts: ScopeFacts) -> str:
    """One line on what the diagram shows; "" when it shows everything."""
    parts: list[str] = []
    if facts.filter:
        parts.append(f"filter: {visible(facts.filter)} ({facts.shown_queues} of {facts.total_queues} queues)")
    if facts.focus is not None:
        parts.append(f"focus: {visible(facts.focus)} (f or Esc: all)")
        if not facts.filter:
            parts[-1] += f", {facts.shown_queues} of {facts.total_queues} queues"
    if facts.folded:
        parts.append(f"{facts.folded} idle queues folded (i unfolds)")
    return " · ".join(parts)


class FilterBar(Horizontal):
    """An input for the filter and a line on what is shown; hidden while the diagram shows it all."""

    DEFAULT_CSS = """
    FilterBar {
        height: 1;
        display: none;
        background: $panel;
        &.-open { display: block; }
        & > Input, & > Input:focus {
            width: 32;
            height: 1;
            border: none;
            padding: 0 1;
        }
        & > Input.-hidden { display: none; }
        & > Static {
            width: 1fr;
            height: 1;
            padding: 0 1;
            color: $text-muted;
        }
        & > Static.-error { color: $text-error; }
    }
    """

    BINDINGS = [Binding("escape", "clear", "Clear filter", show=False)]

    class Changed(Message):
        """The filter text changed (each keystroke)."""

        def __init__(self, bar: FilterBar, text: str) -> None:
            super().__init__()
            self.bar = bar
            self.text = text

        @property
        def control(self) -> FilterBar:
            return self.bar

    class Done(Message):
        """Enter (the filter stays) or Esc (the filter is cleared): the diagram takes the keys again."""

        def __init__(self, bar: FilterBar) -> None:
            super().__init__()
            self.bar = bar

        @property
        def control(self) -> FilterBar:
            return self.bar

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.input = Input(placeholder="filter: text, or a glob like orders.*", id="filter")
        self.note = Static("", id="filter-note", markup=False)
        self._facts: ScopeFacts | None = None

    def compose(self) -> ComposeResult:
        yield self.input
        yield self.note

    def open(self) -> None:
        """Show the bar with its input and type into it."""
        self.add_class("-open")
        self.input.remove_class("-hidden")
        self.input.focus()

    def show(self, facts: ScopeFacts) -> None:
        """Say what the diagram shows; the bar hides when that is everything and no one is typing."""
        self._facts = facts
        if not self.input.has_focus and self.input.value.strip() != facts.filter and facts.error is None:
            self.input.value = facts.filter  # Esc on the diagram cleared it (never while typing)
        self.note.set_class(facts.error is not None, "-error")
        self.note.update(Text(visible(facts.error)) if facts.error is not None else Text(scope_words(facts)))
        self.input.set_class(not facts.filter and not self.input.has_focus, "-hidden")
        self.set_class(facts.active or facts.error is not None or self.input.has_focus, "-open")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Done(self))

    def action_clear(self) -> None:
        self.input.value = ""  # its Changed message clears the filter
        self.post_message(self.Done(self))

    def on_descendant_blur(self) -> None:
        if self._facts is not None:
            self.show(self._facts)
