"""A small modal asking where to write a file: the path typed, problems shown in place in one line,
and an existing file overwritten only after a second Enter on the same path (the confirm step).

What to write is the caller's `render(path)` (the live topology as TOML, definitions or a kombu
program), called at Enter so the file holds the topology as it is then.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from core.exporters import ExportError, FileExists, write_new_file
from tui.text import LineText

Render = Callable[[str], str]
"""The text to write to this path (raises ExportError when the path or the content cannot be used)."""


class SaveDialog(ModalScreen[str | None]):
    """Ask a path and write `render(path)` there; dismisses with the path written, or None (Esc)."""

    DEFAULT_CSS = """
    SaveDialog {
        align: center middle;
        & > Vertical {
            width: 72; height: auto;
            border: round $primary; background: $surface; padding: 0 1;
        }
        & #save-problem { color: $error; height: auto; }
        & #save-problem.-confirm { color: $warning; }
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, hint: str, placeholder: str, render: Render) -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint
        self.placeholder = placeholder
        self.render_text = render
        self.confirming: str | None = None
        """The path whose existing file the next Enter overwrites (the user was asked)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, "bold"))
            yield Static(Text(self.hint, "dim"))
            yield Input(placeholder=self.placeholder, id="save-path")
            yield Static("", id="save-problem", markup=False)

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    def show_problem(self, text: str, *, confirm: bool = False) -> None:
        problem = self.query_one("#save-problem", Static)
        problem.update(LineText(text))
        problem.set_class(confirm, "-confirm")

    @on(Input.Changed, "#save-path")
    def path_changed(self) -> None:
        """A different path is a new question: the confirm and the last problem no longer apply."""
        self.confirming = None
        self.show_problem("")

    @on(Input.Submitted, "#save-path")
    def submitted(self, event: Input.Submitted) -> None:
        path = event.value
        try:
            write_new_file(path, self.render_text(path), overwrite=self.confirming == path)
        except FileExists:
            self.confirming = path
            self.show_problem(f"{path} exists: Enter again overwrites it, Esc cancels", confirm=True)
            return
        except ExportError as exc:
            self.show_problem(str(exc))
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
