"""Form text to the values a scenario file would hold, so core's scenario readers judge them.

An empty field is a field left out (its default applies), as in a TOML table; numbers are read as
TOML reads them; binding arguments are a TOML inline table, written as in a scenario file.
"""

from __future__ import annotations

import tomllib
from typing import Any

from core.text import short


class FormProblem(ValueError):
    """A field that cannot be read at all (the scenario readers judge everything else)."""


def optional_text(value: str) -> str | None:
    """The field's text, or None when it is empty (left out)."""
    return value if value != "" else None


def integer(name: str, value: str) -> int | None:
    """An integer field (None when empty), as TOML reads one."""
    if value.strip() == "":
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise FormProblem(f"{name} must be an integer, not {short(value)}") from None


def number(name: str, value: str) -> float | int | None:
    """A number field (None when empty); the scenario reader refuses inf and nan with its reason."""
    text = value.strip()
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise FormProblem(f"{name} must be a number, not {short(value)}") from None


ARGUMENTS_EXAMPLE = '{ "x-match" = "all", format = "pdf" }'
QUEUE_ARGUMENTS_EXAMPLE = '{ "x-max-priority" = 10, "x-overflow" = "reject-publish" }'


def inline_table(name: str, value: str, example: str = ARGUMENTS_EXAMPLE) -> dict[str, Any]:
    """A TOML inline table such as a scenario's binding or queue `arguments` (empty: no arguments)."""
    text = value.strip()
    if text == "":
        return {}
    try:
        parsed = tomllib.loads(f"value = {text}")["value"]
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise FormProblem(f"{name} must be a TOML inline table like {example}: {exc}") from None
    if not isinstance(parsed, dict):
        raise FormProblem(f"{name} must be a TOML inline table like {example}")
    return parsed
