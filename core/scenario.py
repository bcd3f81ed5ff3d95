"""Scenario TOML files: parse, type-check every field, and build a validated Topology.

Every error names the file, the entry and the problem, in one line, so a CLI can print it as is.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from core.errors import InputError
from core.producers import ProducerSpec, key_choices, producer_problem
from core.publishing import MAX_TTL_SECONDS, body_problem, field_table_problem, seconds_problem
from core.queue_arguments import value_problem
from core.routing import routing_key_problem
from core.text import short
from core.topology import (
    BindingSpec,
    ConsumerSpec,
    ExchangeSpec,
    PublishStep,
    QueueSpec,
    Topology,
    TopologyError,
    as_exchange_type,
    as_failure_policy,
)

DEFAULT_SCENARIO = "seed"
MAX_SECONDS = 86_400.0
"""Longest `after` and `work_seconds`: a day. Longer is a typo (or 1e400, which TOML reads as inf)."""
MAX_PREFETCH = 65_535
"""basic.qos prefetch-count is an AMQP short."""
MAX_LENGTH = 2**63 - 1


class ScenarioError(InputError):
    """A scenario that cannot be loaded; str() is one line: `file: entry: problem`."""


@dataclass(frozen=True)
class Scenario:
    """A named topology plus the producer's publish script."""

    name: str
    title: str
    topology: Topology
    publishes: tuple[PublishStep, ...]
    notice: str | None = None
    """What the loader read but could not use (a definitions import lists it here), in one line."""
    source: str = "<memory>"
    producers: tuple[ProducerSpec, ...] = ()
    """Producers that publish at a rate for as long as the scenario runs (core.producers)."""


T = TypeVar("T")

_SECTIONS = {"scenario", "exchanges", "queues", "consumers", "publish", "producers"}
_FIELDS = {
    "scenario": {"name", "title"},
    "exchanges": {"name", "type", "durable", "alternate_exchange", "bindings"},
    "queues": {
        "name",
        "bindings",
        "dead_letter_exchange",
        "dead_letter_routing_key",
        "message_ttl",
        "max_length",
        "durable",
        "arguments",
    },
    "bindings": {"exchange", "routing_key", "arguments"},
    "consumers": {"name", "queues", "prefetch", "work_seconds", "on_failure", "arguments", "manual"},
    "producers": {"name", "exchange", "rate", "keys", "bodies", "headers"},
    "publish": {
        "exchange",
        "routing_key",
        "body",
        "headers",
        "after",
        "mandatory",
        "expiration",
        "properties",
    },
}
SHORTHANDS = {
    "dead_letter_exchange": "x-dead-letter-exchange",
    "dead_letter_routing_key": "x-dead-letter-routing-key",
    "message_ttl": "x-message-ttl",
    "max_length": "x-max-length",
}
"""Friendly queue fields and the RabbitMQ argument each is short for (giving both is an error)."""
PUBLISH_PROPERTIES = ("priority", "expiration")
MAX_PRIORITY = 255


class _Reader:
    """Typed field access for one TOML table, raising ScenarioError with the entry's location."""

    def __init__(self, source: str, where: str, table: Any, kind: str) -> None:
        self.source, self.where = source, where
        if not isinstance(table, dict):
            self.fail(f"must be a table, not {_type_name(table)}")
        self.table: dict[str, Any] = table
        unknown = sorted(set(table) - _FIELDS[kind])
        if unknown:
            allowed = ", ".join(sorted(_FIELDS[kind]))
            self.fail(f"unknown field {unknown[0]!r} (allowed: {allowed})")

    def fail(self, problem: str) -> NoReturn:
        raise ScenarioError(": ".join(part for part in (self.source, self.where, problem) if part))

    def get(self, name: str, types: type | tuple[type, ...], default: Any, label: str) -> Any:
        if name not in self.table:
            if default is _REQUIRED:
                self.fail(f"missing required field {name!r}")
            return default
        value = self.table[name]
        if isinstance(value, bool) and bool not in _as_tuple(types):
            self.fail(f"{name} must be {label}, not a boolean")
        if not isinstance(value, types):
            self.fail(f"{name} must be {label}, not {_type_name(value)}")
        return value

    def text(self, name: str, default: Any = None) -> Any:
        return self.get(name, str, default, "a string")

    def number(self, name: str, default: Any = None) -> Any:
        value = self.get(name, (int, float), default, "a number")
        if value is None:
            return None
        number = float(value)  # TOML integers are 64-bit: always a float; 1e400 is already inf
        if not math.isfinite(number):
            self.fail(f"{name} must be a finite number, not {value}")
        return number

    def seconds(self, name: str, default: Any, most: float) -> Any:
        value = self.number(name, default)
        if value is not None and (p := seconds_problem(name, value, most=most)) is not None:
            self.fail(p)
        return value

    def integer(self, name: str, default: Any = None, *, least: int = 0, most: int = MAX_LENGTH) -> Any:
        value = self.get(name, int, default, "an integer")
        if value is not None and not least <= value <= most:
            self.fail(f"{name} must be between {least} and {most}, not {value}")
        return value

    def field_table(self, name: str, check: Callable[[Any, str], str | None]) -> dict[str, Any]:
        """A TOML table that AMQP can carry (headers, binding arguments), checked by `check`."""
        value = dict(self.get(name, dict, {}, "a table"))
        if (p := check(value, name)) is not None:
            self.fail(p)
        return value

    def flag(self, name: str, default: bool) -> bool:
        return bool(self.get(name, bool, default, "true or false"))


_REQUIRED = object()


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _type_name(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _entries(source: str, data: Mapping[str, Any], section: str) -> list[Any]:
    raw = data.get(section, [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{source}: [{section}]: must be an array of tables ([[{section}]])")
    return raw


def _each(source: str, data: Mapping[str, Any], section: str, build: Callable[[_Reader], T]) -> tuple[T, ...]:
    out = []
    for index, table in enumerate(_entries(source, data, section), start=1):
        name = table.get("name") if isinstance(table, dict) else None
        where = f"{section}[{index}]" + (f" ({short(name)})" if isinstance(name, str) else "")
        out.append(build(_Reader(source, where, table, section)))
    return tuple(out)


def _exchange(r: _Reader) -> ExchangeSpec:
    kind = r.text("type", "topic")
    try:
        exchange_type = as_exchange_type(kind)
    except TopologyError as exc:
        r.fail(str(exc))
    return ExchangeSpec(
        name=r.text("name", _REQUIRED),
        type=exchange_type,
        durable=r.flag("durable", True),
        alternate_exchange=r.text("alternate_exchange"),
        bindings=_bindings(r),
    )


def _bindings(r: _Reader) -> tuple[BindingSpec, ...]:
    """A queue's bindings, or an exchange's exchange-to-exchange ones (`exchange` is the source)."""
    bindings_raw = r.get("bindings", list, [], "an array of tables")
    return tuple(
        _binding(_Reader(r.source, f"{r.where} bindings[{i}]", b, "bindings"))
        for i, b in enumerate(bindings_raw, start=1)
    )


def _binding(r: _Reader) -> BindingSpec:
    return BindingSpec(
        exchange=r.text("exchange", _REQUIRED),
        routing_key=r.text("routing_key", ""),
        arguments=r.field_table("arguments", field_table_problem),
    )


def _queue(r: _Reader) -> QueueSpec:
    bindings = _bindings(r)
    arguments = r.field_table("arguments", field_table_problem)
    for short_name, long_name in SHORTHANDS.items():
        if short_name in r.table and long_name in arguments:
            r.fail(f"{short_name} and arguments {long_name!r} are the same argument: give one")
    for key in sorted(arguments):  # x-single-active-consumer's own check words it (Topology.problems)
        if key != "x-single-active-consumer" and (p := value_problem(key, arguments[key])) is not None:
            r.fail(f"arguments {key!r}: invalid value {p}")
    taken = {long: arguments.pop(long) for long in SHORTHANDS.values() if long in arguments}
    ttl_ms = taken.get("x-message-ttl")
    if ttl_ms is not None and ttl_ms > MAX_TTL_SECONDS * 1000:
        r.fail(f"arguments 'x-message-ttl' must be at most {round(MAX_TTL_SECONDS * 1000)} ms")
    return QueueSpec(
        name=r.text("name", _REQUIRED),
        bindings=bindings,
        dead_letter_exchange=taken.get("x-dead-letter-exchange", r.text("dead_letter_exchange")),
        dead_letter_routing_key=taken.get("x-dead-letter-routing-key", r.text("dead_letter_routing_key")),
        message_ttl=(
            ttl_ms / 1000 if ttl_ms is not None else r.seconds("message_ttl", None, MAX_TTL_SECONDS)
        ),
        max_length=taken.get("x-max-length", r.integer("max_length")),
        durable=r.flag("durable", True),
        arguments=arguments,
    )


def _consumer(r: _Reader) -> ConsumerSpec:
    queues = r.get("queues", list, _REQUIRED, "an array of queue names")
    if not all(isinstance(q, str) for q in queues):
        r.fail("queues must be an array of queue names (strings)")
    policy = r.text("on_failure", "requeue")
    try:
        on_failure = as_failure_policy(policy)
    except TopologyError as exc:
        r.fail(str(exc))
    return ConsumerSpec(
        name=r.text("name", _REQUIRED),
        queues=tuple(queues),
        prefetch=r.integer("prefetch", 1, most=MAX_PREFETCH),
        work_seconds=r.seconds("work_seconds", 0.0, MAX_SECONDS),
        on_failure=on_failure,
        arguments=r.field_table("arguments", field_table_problem),
        manual=r.flag("manual", False),
    )


def _producer(r: _Reader) -> ProducerSpec:
    name = r.text("name", _REQUIRED)
    rate = r.number("rate", _REQUIRED)
    raw_keys = r.get("keys", list, [""], "an array of routing keys or {key, weight} tables")
    try:
        keys, weighted = key_choices(raw_keys)
    except ValueError as exc:
        r.fail(str(exc))
    bodies = r.get("bodies", list, [{}], "an array of bodies")
    return ProducerSpec(
        name=name, exchange=r.text("exchange", _REQUIRED), rate=rate, keys=keys, weighted=weighted,
        bodies=tuple(bodies), headers=r.field_table("headers", field_table_problem),
    )


def _publish(r: _Reader) -> PublishStep:
    key = r.text("routing_key", "")
    if (p := routing_key_problem(key)) is not None:
        r.fail(p)
    body = r.get("body", (dict, list, str, int, float), {}, "a table, array, string or number")
    if (p := body_problem(body)) is not None:
        r.fail(p)
    properties = r.get("properties", dict, {}, "a table")
    unknown = sorted(set(properties) - set(PUBLISH_PROPERTIES))
    if unknown:
        r.fail(f"properties: unknown property {unknown[0]!r} (allowed: {', '.join(PUBLISH_PROPERTIES)})")
    expiration = r.seconds("expiration", None, MAX_TTL_SECONDS)
    if "expiration" in properties:
        if "expiration" in r.table:
            r.fail("expiration and properties 'expiration' are the same property: give one")
        expiration = _expiration_property(r, properties["expiration"])
    priority = properties.get("priority")
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY
    ):
        r.fail(
            f"properties 'priority' must be an integer between 0 and {MAX_PRIORITY}, "
            f"not {short(str(priority))}"
        )
    return PublishStep(
        exchange=r.text("exchange", _REQUIRED),
        routing_key=key,
        body=body,
        headers=r.field_table("headers", field_table_problem),
        after=r.seconds("after", 0.0, MAX_SECONDS),
        mandatory=r.flag("mandatory", False),
        expiration=expiration,
        priority=priority,
    )


def _expiration_property(r: _Reader, value: Any) -> float:
    """AMQP's expiration as RabbitMQ takes it: milliseconds written as a string of digits."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        r.fail(
            "properties 'expiration' must be milliseconds as a string of digits (\"500\"), "
            f"not {short(str(value))}"
        )
    ms = int(value)
    if ms > MAX_TTL_SECONDS * 1000:
        r.fail(f"properties 'expiration' must be at most {round(MAX_TTL_SECONDS * 1000)} ms, not {ms}")
    return ms / 1000


def exchange_entry(table: dict[str, Any]) -> ExchangeSpec:
    """One `[[exchanges]]` table read by the scenario file's own rules (an editor's form uses it);
    ScenarioError's line is then the problem alone, e.g. `type 'x' is not one of direct, ...`."""
    return _exchange(_Reader("", "", table, "exchanges"))


def queue_entry(table: dict[str, Any]) -> QueueSpec:
    """One `[[queues]]` table (without bindings) by the scenario file's rules; see exchange_entry."""
    return _queue(_Reader("", "", table, "queues"))


def binding_entry(table: dict[str, Any]) -> BindingSpec:
    """One queue binding table by the scenario file's rules; see exchange_entry."""
    return _binding(_Reader("", "", table, "bindings"))


def consumer_entry(table: dict[str, Any]) -> ConsumerSpec:
    """One `[[consumers]]` table by the scenario file's rules; see exchange_entry."""
    return _consumer(_Reader("", "", table, "consumers"))


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate scenario TOML text; raise ScenarioError with one clear line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise ScenarioError(f"{source}: not usable TOML: nested too deep") from None
    return scenario_from_data(data, source)


def scenario_from_data(data: Mapping[str, Any], source: str = "<string>") -> Scenario:
    """Validate a scenario already read from TOML (a lesson step holds one as an inline table)."""
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ScenarioError(
            f"{source}: unknown section {unknown[0]!r} (allowed: {', '.join(sorted(_SECTIONS))})"
        )
    head = _Reader(source, "[scenario]", data.get("scenario", {}), "scenario")
    name = head.text("name", Path(source).stem)
    title = head.text("title", name)
    topology = Topology(
        exchanges=_each(source, data, "exchanges", _exchange),
        queues=_each(source, data, "queues", _queue),
        consumers=_each(source, data, "consumers", _consumer),
    )
    problems = topology.problems()
    if problems:
        raise ScenarioError(f"{source}: {problems[0]}")
    publishes = _each(source, data, "publish", _publish)
    for index, step in enumerate(publishes, start=1):
        if step.exchange != "" and topology.exchange(step.exchange) is None:
            raise ScenarioError(f"{source}: publish[{index}]: unknown exchange {short(step.exchange)}")
    producers = _each(source, data, "producers", _producer)
    _check_producers(source, producers, topology)
    return Scenario(
        name=name, title=title, topology=topology, publishes=publishes, source=source, producers=producers
    )


def _check_producers(source: str, producers: tuple[ProducerSpec, ...], topology: Topology) -> None:
    seen: set[str] = set()
    for index, spec in enumerate(producers, start=1):
        where = f"{source}: producers[{index}] ({short(spec.name)})"
        if spec.name in seen:
            raise ScenarioError(f"{where}: a producer of that name is declared already")
        seen.add(spec.name)
        if (p := producer_problem(spec, topology)) is not None:
            raise ScenarioError(f"{where}: {p}")


def builtin_names() -> list[str]:
    """Names of the scenarios shipped inside the package."""
    folder = resources.files("core").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str = DEFAULT_SCENARIO) -> Scenario:
    """Load a built-in scenario by name, or a TOML file by path (core.scenario_files also reads
    RabbitMQ definitions JSON)."""
    if name_or_path in builtin_names():
        resource = resources.files("core").joinpath("scenarios", f"{name_or_path}.toml")
        return parse_scenario(resource.read_text(encoding="utf-8"), f"{name_or_path}.toml")
    path = Path(name_or_path)
    if not path.exists():
        known = ", ".join(builtin_names())
        raise ScenarioError(f"{name_or_path}: no such scenario file or built-in scenario (built-in: {known})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{name_or_path}: cannot read: {exc}") from None
    return parse_scenario(text, str(path))
