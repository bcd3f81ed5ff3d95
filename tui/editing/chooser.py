"""`a` on the diagram: choose what to add, the selection's own kind first."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

KINDS = ("exchange", "queue", "binding", "consumer")


class AddChooser(ModalScreen[str | None]):
    """A short list of kinds; Enter picks one, Escape picks none."""

    DEFAULT_CSS = """
    AddChooser {
        align: center middle;
        & > OptionList { width: 30; height: auto; border: thick $primary; }
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, first: str | None) -> None:
        super().__init__()
        self.first = first if first in KINDS else "queue"

    def compose(self) -> ComposeResult:
        options = OptionList(*(Option(f"Add {kind}", id=kind) for kind in KINDS), id="kinds")
        options.border_title = "Add"
        yield options

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = KINDS.index(self.first)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
