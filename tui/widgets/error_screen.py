"""The screen a bug lands on: which thread failed, the one-line error and the full traceback.

A bug is never turned into a notification that fades: mqscope's picture may be wrong from here on,
so the user is told plainly and can copy the traceback into a report. Escape returns to the flow;
q quits. The traceback is broker- and user-controlled text in part, so it is never read as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from core.events import InternalError
from tui.text import ShownText


class ErrorScreen(ModalScreen[None]):
    """Shows one InternalError (and how many more followed it)."""

    DEFAULT_CSS = """
    ErrorScreen {
        align: center middle;
        & > Vertical {
            width: 90%; height: 80%;
            border: heavy $error; background: $surface; padding: 0 1;
        }
        & #error-traceback { height: 1fr; }
    }
    """
    BINDINGS = [Binding("escape", "dismiss_screen", "Back"), Binding("q", "app.quit", "Quit")]

    def __init__(self, error: InternalError) -> None:
        super().__init__(id="error-screen")
        self.error = error
        self.more = 0
        """Further internal errors reported while this screen was up."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(ShownText(f"mqscope hit a bug in {self.error.where}", "bold"), id="error-title")
            yield Static(ShownText(self.error.error), id="error-summary")
            with VerticalScroll(id="error-traceback"):
                yield Static(
                    ShownText(self.error.traceback or "(no traceback)"), id="error-text", markup=False
                )
            yield Static(Text("Esc: back to the flow (it may be wrong from here on) · q: quit", "dim"))

    def add(self, error: InternalError) -> None:
        """Another bug while this one is shown: count it, keep the first (usually the cause)."""
        self.more += 1
        self.query_one("#error-summary", Static).update(
            ShownText(f"{self.error.error}  (+{self.more} more internal error(s) since)")
        )

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)
