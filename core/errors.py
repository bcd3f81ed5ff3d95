"""The line between bad input and a bug: what the CLI reports in one line (exit 2), and what it
reports with a traceback (exit 1).

Every error a user can cause by what they typed or pointed mqscope at (a scenario file, a broker URL,
a routing key, a --tap value) derives from InputError. Anything else escaping a loop is a bug.
"""

from __future__ import annotations

import traceback


class InputError(ValueError):
    """Bad input: str() is one line that says what to fix (never a password)."""


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line (just the message for input errors, which are written for users)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, InputError) else f"{type(exc).__name__}: {text}"


def format_traceback(exc: BaseException) -> str:
    """The full traceback of `exc`, chained causes included, as Python would print it."""
    return "".join(traceback.format_exception(exc))
