"""Text from users and brokers, made safe to put on a terminal: one helper for every view.

A name, key, body or header can hold `ESC ]0;title BEL` (retitles the terminal), `ESC [2J` (clears
it under Textual's feet), bidi overrides or lone surrogates. `visible` shows each such character as a
backslash escape (`\\x1b`, `\\u202e`) so it is seen, not obeyed; the canvas, lens, log, inspector,
status line, palette, notifications, tooltips and error screen all go through it. Markup is a separate
trap: callers wrap the result in `Text(...)` / `Content(...)` or pass `markup=False`, never a markup str.

`visible` is core.text.visible (what headless output and the event log's lines use) plus the
characters Python still calls non-printable after it (private-use and unassigned code points, non-ASCII
spaces), in the same escape format: the diagram's cells and the terminal need printable text only.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text

from core.text import visible as core_visible

PREVIEW_BYTES = 4096
"""How much of a body or a header block the inspector shows: a screenful, not 5 MB of Rich lines."""


def _escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """`text` with every non-printable character (the space aside) shown as a backslash escape."""
    if text.isprintable():
        return text  # the common case: one C-level scan, no copy
    text = core_visible(text)
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def visible_lines(text: str) -> str:
    """`visible` line by line: the newlines of a traceback or pretty JSON stay, nothing else does."""
    return "\n".join(visible(line) for line in text.split("\n"))


def capped(text: str, limit: int = PREVIEW_BYTES) -> str:
    """At most `limit` UTF-8 bytes of `text`, then a line saying how many more were cut."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    head = raw[:limit].decode("utf-8", "ignore")  # "ignore": a character cut in half is dropped
    return f"{head}\n… {len(raw) - len(head.encode('utf-8', 'surrogatepass')):,} more bytes cut"


class ShownText(Text):
    """A Text whose strings (given up front or appended) go through `visible_lines` first: builders
    that mix labels with names, keys and bodies start from one and cannot forget a piece.
    (Rich itself drops BEL, CR and BS but keeps ESC; escaping first shows all of them.)"""

    def __init__(self, text: str = "", style: str | Style = "", **kwargs: Any) -> None:
        super().__init__(self.shown(text), style, **kwargs)

    @staticmethod
    def shown(text: str) -> str:
        """Multi-line views keep line breaks (a name holding one breaks the line, harmlessly)."""
        return visible_lines(text)

    def append(self, text: str | Text, style: str | Style | None = None) -> Text:
        if isinstance(text, str):
            text = self.shown(text)
        return super().append(text, style)


class LineText(ShownText):
    """ShownText for one-line views (status line, log lines): a line break shows as `\\x0a` too."""

    @staticmethod
    def shown(text: str) -> str:
        return visible(text)


def _shown(text: str) -> bool:
    return all(line.isprintable() for line in text.split("\n"))


def visible_text(text: Text) -> Text:
    """A styled Text with `visible_lines` applied, styles kept on what they covered.

    The one choke point for widgets that build Text from many pieces (lens verdicts, inspector, log
    lines, tooltips, status line): whatever a piece held, nothing invisible reaches the terminal."""
    plain = text.plain
    if _shown(plain):
        return text
    cuts = sorted({0, len(plain), *(s.start for s in text.spans), *(s.end for s in text.spans)})
    out = Text(
        style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap, end=text.end
    )
    for piece in text.divide(cuts[1:-1]):
        start = len(out)
        out.append(visible_lines(piece.plain))
        for span in piece.spans:
            out.stylize(span.style, start, len(out))
    return out
