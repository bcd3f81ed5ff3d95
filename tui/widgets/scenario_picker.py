"""A small modal listing the built-in scenarios, and a field for a scenario file of one's own (TOML, or
a RabbitMQ definitions export); dismisses with the chosen name or path (or None)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.text import ShownText


class ScenarioPicker(ModalScreen[str | None]):
    """Pick a scenario; the current one is marked."""

    DEFAULT_CSS = """
    ScenarioPicker {
        align: center middle;
        & > Vertical {
            width: 60; height: auto; max-height: 80%;
            border: round $primary; background: $surface; padding: 0 1;
        }
        & OptionList { height: auto; max-height: 16; }
        & Input { margin-top: 1; }
    }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, scenarios: list[tuple[str, str]], current: str) -> None:
        super().__init__()
        self.scenarios = scenarios
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Switch scenario (Enter picks, Esc cancels)", "bold"))
            options = []
            for name, title in self.scenarios:
                label = ShownText(name, "bold")
                label.append(f"  {title}", "dim")
                if name == self.current:
                    label.append("  (running)", "italic")
                options.append(Option(label, id=name))
            yield OptionList(*options)
            yield Input(placeholder="or a file: scenario.toml / definitions.json, Enter opens", id="path")

    def on_mount(self) -> None:
        names = [n for n, _ in self.scenarios]
        option_list = self.query_one(OptionList)
        if self.current in names:
            option_list.highlighted = names.index(self.current)
        option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """A path typed here; the app says in place what is wrong with it, if anything."""
        if path := event.value.strip():
            self.dismiss(path)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
