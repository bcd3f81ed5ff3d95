"""The command palette's source: the app's system commands, shown as text, never as markup.

Textual's own SystemCommandsProvider turns every title into `Content.from_markup(title)`, so a
consumer named `a.[/]` crashed the palette and `[@click=app.quit]x[/]` became a live link. This
provider lists the same `App.get_system_commands` entries with `Content(visible(title))`: brackets stay
brackets and control characters show as escapes. Help texts are still read as markup by the palette
(Textual's command.py), so they are fixed sentences: never put a name in one.
"""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from tui.text import visible


class PlainCommands(Provider):
    """`App.get_system_commands` as palette hits with literal titles (fuzzy matches highlighted)."""

    async def discover(self) -> Hits:
        commands = sorted(self.app.get_system_commands(self.screen), key=lambda command: command.title)
        for command in commands:
            if command.discover:
                title = visible(command.title)
                yield DiscoveryHit(Content(title), command.callback, text=title, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.app.get_system_commands(self.screen):
            title = visible(command.title)
            score, offsets = matcher.fuzzy_search.match(matcher.query, title)
            if score <= 0:
                continue
            prompt = Content(title)
            for offset in offsets:
                if not title[offset].isspace():
                    prompt = prompt.stylize(matcher.match_style, offset, offset + 1)
            yield Hit(score, prompt, command.callback, text=title, help=command.help)
