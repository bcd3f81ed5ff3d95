"""Any scenario a user can name: a built-in, a scenario TOML file, or RabbitMQ definitions JSON
(told apart by a `.json` name or a leading `{`, which TOML never has). Above core.scenario and
core.definitions, so neither imports the other's loader."""

from __future__ import annotations

from pathlib import Path

from core.definitions import DEFAULT_VHOST, load_definitions, looks_like_definitions
from core.scenario import DEFAULT_SCENARIO, Scenario, ScenarioError, builtin_names, load_scenario


def open_scenario(name_or_path: str = DEFAULT_SCENARIO, *, vhost: str = DEFAULT_VHOST) -> Scenario:
    """The scenario `name_or_path` names; `vhost` picks one vhost of a definitions file."""
    if name_or_path in builtin_names():
        return load_scenario(name_or_path)
    path = Path(name_or_path)
    try:
        with path.open("rb") as head:
            start = head.read(4096).decode("utf-8", "replace")
    except OSError:
        return load_scenario(name_or_path)  # says what is wrong with the path, as before
    if looks_like_definitions(name_or_path, start):
        return load_definitions(name_or_path, vhost)
    return load_scenario(name_or_path)


__all__ = ["ScenarioError", "open_scenario"]
