"""Text from users and brokers, made safe for a terminal and for JSON lines.

Names, routing keys, bodies and error messages can hold anything: `ESC ]0;title BEL` retitles a
terminal, U+009B (CSI) starts an escape sequence on some, a lone surrogate from a non-UTF-8 argv
crashes `print`. `visible(s)` shows every such character as a backslash escape instead; `json_line`
keeps JSON valid while escaping those code points (and only those) as \\uXXXX. `bounded` keeps a line
readable. The TUI uses the same helpers (core never imports the TUI).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_LINE = 300
"""Characters in one stderr line at most: enough for a file, an entry, a field and the problem."""

_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL, C1 (U+009B is CSI)
    "\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff"  # format, bidi, line sep
    "\ud800-\udfff]"  # lone surrogates (surrogateescape'd argv bytes)
)
_JSON_UNSAFE = _INVISIBLE


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """`text` with control, bidi/format and surrogate characters shown as `\\x1b` / `\\u202e` escapes."""
    return _INVISIBLE.sub(_escape, text)


def visible_lines(text: str) -> str:
    """`visible` line by line: the newlines of a traceback stay, everything else is escaped."""
    return "\n".join(visible(line) for line in text.split("\n"))


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_line(value: Any) -> str:
    """One JSON object on one line: non-ASCII text stays readable, but C0/C1 controls, U+009B, bidi
    overrides, line separators and lone surrogates are written as \\uXXXX (still valid JSON, and the
    same value when parsed). Outside strings JSON is ASCII, so the substitution only touches strings."""
    return _JSON_UNSAFE.sub(_json_escape, json.dumps(value, default=str, ensure_ascii=False))


def bounded(text: str, limit: int = MAX_LINE) -> str:
    """`text` cut to at most `limit` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def one_line_visible(text: str, limit: int = MAX_LINE) -> str:
    """A line for stderr: whitespace runs collapsed, controls visible, at most `limit` characters."""
    return bounded(visible(" ".join(text.split())), limit)


def utf8_problem(what: str, text: str) -> str | None:
    """Why `text` cannot be sent as UTF-8 (a lone surrogate from undecodable argv bytes), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{what} '{visible(text)}' is not valid UTF-8"
    return None


SHORT_NAME = 60


def short(name: object, limit: int = SHORT_NAME) -> str:
    """A name quoted for an error line (repr: controls escaped), cut so the problem after it shows."""
    return bounded(visible(repr(name)), limit)
