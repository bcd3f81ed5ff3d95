"""The routing-key input: up/down recall earlier keys, right-arrow accepts a suggestion.

Suggestions come from keys the scenario publishes, the literal parts of binding patterns and what
the user already sent, so a learner sees real keys to try.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from textual.binding import Binding
from textual.suggester import Suggester
from textual.widgets import Input

from tui.text import visible

MAX_FIELD = 65_536
"""Characters a lens field takes (a routing key may have 255 bytes; the lens says why a longer one
is refused, so the key field takes the same room)."""


class KeySuggester(Suggester):
    """Suggests the first known key starting with what was typed; the list can grow."""

    def __init__(self, candidates: Iterable[str] = ()) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.candidates: list[str] = []
        self.extend(candidates)

    def extend(self, candidates: Iterable[str]) -> None:
        for candidate in candidates:
            if candidate and candidate.isprintable() and candidate not in self.candidates:
                self.candidates.append(candidate)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        return next((c for c in self.candidates if c.startswith(value) and c != value), None)


def pattern_suggestions(patterns: Iterable[str]) -> list[str]:
    """Binding patterns as key prefixes to type on from: `video.#` -> `video.`, `eu.*.order` -> `eu.`."""
    out = []
    for pattern in patterns:
        literal = []
        for word in pattern.split("."):
            if word in ("#", "*"):
                break
            literal.append(word)
        if not literal:
            continue
        whole = len(literal) == len(pattern.split("."))
        out.append(".".join(literal) + ("" if whole else "."))
    return out


BLINK_SECONDS = 10.0
"""The cursor blinks this long after the last key (or focus), then stays lit, as GTK's cursor does: a
cursor blinking for ever repainted the screen twice a second, most of the app's CPU at rest
(benchmarks/bench_idle.py)."""


class LensInput(Input):
    """An Input that never holds a control character: a paste (the only way one gets in: typed
    control keys are bindings, not text) or a value set in code has each shown as its escape
    (`\\x1b`), so what the input shows is what it holds, and what is published. Its length is capped
    (MAX_FIELD): Input re-renders its whole value on every repaint, and a 5 MB paste made each
    keystroke cost a tenth of a second. Its cursor stops blinking BLINK_SECONDS after the last key."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_FIELD)
        super().__init__(**kwargs)
        self._blink_since = time.monotonic()

    def _restart_blink(self) -> None:
        self._blink_since = time.monotonic()
        super()._restart_blink()

    def _toggle_cursor(self) -> None:
        """Blink while the user is at it; then a steady cursor and no timer until the next key."""
        if time.monotonic() - self._blink_since > BLINK_SECONDS and self._blink_timer is not None:
            self._blink_timer.pause()
            self._cursor_visible = True
            return
        super()._toggle_cursor()

    def restricted(self) -> None:
        """A paste past `max_length` is refused whole (Textual's Input): say so, do not just beep."""
        self.notify(
            f"refused: this field holds at most {self.max_length:,} characters",
            severity="warning",
            markup=False,
        )

    def replace(self, text: str, start: int, end: int) -> None:
        super().replace(visible(text), start, end)  # before the cursor moves by the pasted length

    def validate_value(self, value: str) -> str:
        return visible(value)


class KeyInput(LensInput):
    """An Input with a history of published keys, recalled with up and down."""

    BINDINGS = [
        Binding("up", "history(-1)", "Previous key", show=False),
        Binding("down", "history(1)", "Next key", show=False),
    ]

    def __init__(self, *, suggestions: Iterable[str] = (), **kwargs: object) -> None:
        self.key_suggester = KeySuggester(suggestions)
        super().__init__(suggester=self.key_suggester, **kwargs)
        self.history: list[str] = []
        self._cursor = 0

    def remember(self, key: str) -> None:
        """Add a published key to the history (and the suggestions); the cursor goes past the end."""
        if not self.history or self.history[-1] != key:
            self.history.append(key)
        self.key_suggester.extend([key])
        self._cursor = len(self.history)

    def action_history(self, delta: int) -> None:
        """Step through earlier keys; past the newest one the input is empty again."""
        if not self.history:
            return
        self._cursor = max(0, min(len(self.history), self._cursor + delta))
        self.value = self.history[self._cursor] if self._cursor < len(self.history) else ""
        self.cursor_position = len(self.value)
