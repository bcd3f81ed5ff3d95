"""The footer: the screen's key bindings that fit the width, most useful first; never a cut label.

Textual's Footer lays every shown binding out in a row and lets the right-docked palette key cover
whatever does not fit (at 80 columns it read `^p paletteu`). This bar chooses instead: it takes whole
groups of bindings in `rank` order while they fit, shows them in binding order, and always keeps the
command palette's key at the right edge; every control is also a palette command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

PALETTE_SEPARATOR = " │ "


@dataclass(frozen=True)
class KeyItem:
    """One binding as the bar shows it."""

    key: str
    action: str
    display: str
    description: str
    enabled: bool

    @property
    def width(self) -> int:
        return cell_len(self.display) + 1 + cell_len(self.description)


class KeyBar(Widget):
    """One row of `key description` pairs; a click on one presses its key."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        & > .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description"}

    def __init__(self, rank: Sequence[Sequence[str]], *, id: str | None = None) -> None:
        """`rank`: groups of actions, most useful first; a group shows whole or not at all."""
        super().__init__(id=id)
        self.rank = [tuple(group) for group in rank]
        self.spans: list[tuple[int, int, str]] = []
        """(start, end, key) of each item last drawn: what a click at x presses."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Screen[object]) -> None:
        self.refresh()

    def items(self) -> tuple[list[KeyItem], KeyItem | None]:
        """The screen's shown bindings (in binding order) and the command palette's key."""
        shown: list[KeyItem] = []
        palette: KeyItem | None = None
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            display = self.app.get_key_display(binding)
            item = KeyItem(key, binding.action, display, binding.description, active.enabled)
            if key == self.app.COMMAND_PALETTE_BINDING and self.app.ENABLE_COMMAND_PALETTE:
                palette = item
            elif binding.show:
                shown.append(item)
        return shown, palette

    def fit(self, items: list[KeyItem], width: int) -> list[KeyItem]:
        """The items to show in `width` cells: whole rank groups, in rank order, while they fit."""
        by_action: dict[str, list[KeyItem]] = {}
        for item in items:
            by_action.setdefault(item.action, []).append(item)
        ranked = [*self.rank, *((a,) for a in by_action if not any(a in g for g in self.rank))]
        chosen: set[str] = set()
        used = 0
        for group in ranked:
            members = [item for action in group for item in by_action.get(action, [])]
            if not members:
                continue
            need = sum(item.width + 1 for item in members)
            if used + need > width:
                break
            used += need
            chosen.update(item.key for item in members)
        return [item for item in items if item.key in chosen]

    def render(self) -> Text:
        width = self.content_region.width
        items, palette = self.items()
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        tail = Text()
        if palette is not None:
            tail.append(PALETTE_SEPARATOR, Style(dim=True))
            tail.append(palette.display, key_style)
            tail.append(f" {palette.description} ", description_style)
        text = Text(no_wrap=True, overflow="crop")
        self.spans = []
        room = width - tail.cell_len
        for item in self.fit(items, room - 1):  # at least two blank cells before the separator
            start = text.cell_len + 1
            style = key_style if item.enabled else key_style + Style(dim=True)
            text.append(" ")
            text.append(item.display, style)
            text.append(" " + item.description, description_style)
            self.spans.append((start, text.cell_len, item.key))
        text.append(" " * max(0, room - text.cell_len))
        if palette is not None and tail.cell_len <= width:
            start = text.cell_len + len(PALETTE_SEPARATOR)
            self.spans.append((start, text.cell_len + tail.cell_len, palette.key))
            text.append_text(tail)
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self.spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
