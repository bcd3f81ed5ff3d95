"""Events back from their JSON form: the inverse of `FlowEvent.to_json`, for replaying a recording.

One table maps each `event` word to its class; a topology event's entity is rebuilt from the fields
`TopologyChange.fields` wrote. Every field is checked against its type, so a line that parses as
JSON but is not an event this mqscope knows raises EventJsonError with a one-line reason instead of
reaching the ledger and the views half-formed. Keys a newer mqscope may add are ignored.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields
from typing import Any

from core.events import (
    Acked,
    BrokerStatus,
    ConsumerState,
    DeadLettered,
    Delivered,
    Dropped,
    Expired,
    FlowEvent,
    InternalError,
    Notice,
    Published,
    QueueDepth,
    Rejected,
    Requeued,
    Returned,
    Routed,
    ScriptEnded,
    ScriptOutput,
    TopologyChanged,
)
from core.routing import Binding
from core.scenario import SHORTHANDS
from core.topology import EXCHANGE_TYPES, FAILURE_POLICIES, ConsumerSpec, ExchangeSpec, QueueSpec
from core.topology_changes import Entity, TopologyChange


class EventJsonError(ValueError):
    """A JSON object that is not an event this mqscope knows; str() is one line."""


class UnknownEvent(EventJsonError):
    """An `event` word this mqscope does not know (a newer mqscope recorded it)."""


EVENT_CLASSES: dict[str, type[FlowEvent]] = {
    cls.kind: cls
    for cls in (
        Published,
        Routed,
        Delivered,
        Acked,
        Rejected,
        Requeued,
        DeadLettered,
        Dropped,
        Expired,
        Returned,
        ConsumerState,
        QueueDepth,
        BrokerStatus,
        Notice,
        TopologyChanged,
        ScriptOutput,
        ScriptEnded,
        InternalError,
    )
}
"""Every event kind by its JSON `event` word (a new FlowEvent class must be added here)."""


def event_from_json(obj: Any, *, restamp: bool = False) -> FlowEvent:
    """The event `obj` (a parsed `to_json` object) stands for; EventJsonError says why not.
    `restamp`: its `ts` is now (time.monotonic()), not the recorded one (a replay's events)."""
    if not isinstance(obj, dict):
        raise EventJsonError(f"not an event object but a JSON {_json_type(obj)}")
    word = obj.get("event")
    if not isinstance(word, str):
        raise EventJsonError("no 'event' word")
    cls = EVENT_CLASSES.get(word)
    if cls is None:
        raise UnknownEvent(f"unknown event {word!r} (recorded by a newer mqscope?)")
    where = f"event {word!r}"
    msg = obj.get("msg")
    if msg is not None and not isinstance(msg, str):
        raise EventJsonError(f"{where}: 'msg' must be a string or null")
    common: dict[str, Any] = {"msg": msg}
    if "ts" in obj and not restamp:
        common["ts"] = _number(obj["ts"], f"{where}: 'ts'")
    if cls is TopologyChanged:
        origin = _text(obj, "origin", where, "scenario")
        return TopologyChanged(change=change_from_json(obj), origin=origin, **common)
    values: dict[str, Any] = {}
    for name, required, check, named in _plan(cls):
        if name in obj:
            values[name] = check(obj[name], named)
        elif required:
            raise EventJsonError(f"{where}: missing field {name!r}")
    return cls(**values, **common)


def change_from_json(obj: Mapping[str, Any]) -> TopologyChange:
    """A topology change from `op`, `kind` and the entity's fields (TopologyChange.fields' names)."""
    op = obj.get("op")
    if op not in ("declare", "delete"):
        raise EventJsonError(f"topology: 'op' must be declare or delete, not {op!r}")
    kind = obj.get("kind")
    build = _ENTITIES.get(kind) if isinstance(kind, str) else None
    if build is None:
        raise EventJsonError(f"topology: unknown kind {kind!r} (exchange, queue, binding or consumer)")
    entity = build(obj, f"topology {kind}")
    return TopologyChange("declare" if op == "declare" else "delete", entity)


def _exchange(obj: Mapping[str, Any], where: str) -> ExchangeSpec:
    kind = _text(obj, "type", where, "topic")
    if kind not in EXCHANGE_TYPES:
        raise EventJsonError(f"{where}: 'type' must be one of {', '.join(EXCHANGE_TYPES)}")
    arguments = _table(obj, "arguments", where)
    alternate = arguments.get("alternate-exchange")
    if alternate is not None and not isinstance(alternate, str):
        raise EventJsonError(f"{where}: 'alternate-exchange' must be a string")
    return ExchangeSpec(
        name=_text(obj, "name", where),
        type=typing.cast(Any, kind),
        durable=_flag(obj, "durable", where, True),
        alternate_exchange=alternate,
    )


def _queue(obj: Mapping[str, Any], where: str) -> QueueSpec:
    """The queue with RabbitMQ's x-arguments back in the shorthand fields they were written from."""
    arguments = dict(_table(obj, "arguments", where))
    taken = {short: arguments.pop(long) for short, long in SHORTHANDS.items() if long in arguments}
    for short in ("dead_letter_exchange", "dead_letter_routing_key"):
        if short in taken and not isinstance(taken[short], str):
            raise EventJsonError(f"{where}: {SHORTHANDS[short]!r} must be a string")
    for short in ("message_ttl", "max_length"):
        if short in taken and not _is_int(taken[short]):
            raise EventJsonError(f"{where}: {SHORTHANDS[short]!r} must be an integer")
    ttl = taken.get("message_ttl")
    return QueueSpec(
        name=_text(obj, "name", where),
        dead_letter_exchange=taken.get("dead_letter_exchange"),
        dead_letter_routing_key=taken.get("dead_letter_routing_key"),
        message_ttl=None if ttl is None else ttl / 1000,
        max_length=taken.get("max_length"),
        durable=_flag(obj, "durable", where, True),
        arguments=arguments,
    )


def _binding(obj: Mapping[str, Any], where: str) -> Binding:
    destination_kind = _text(obj, "destination_type", where, "queue")
    if destination_kind not in ("queue", "exchange"):
        raise EventJsonError(f"{where}: 'destination_type' must be queue or exchange")
    return Binding(
        _text(obj, "source", where),
        _text(obj, "destination", where),
        "queue" if destination_kind == "queue" else "exchange",
        _text(obj, "routing_key", where, ""),
        dict(_table(obj, "arguments", where)),
    )


def _consumer(obj: Mapping[str, Any], where: str) -> ConsumerSpec:
    queues = obj.get("queues", [])
    if not isinstance(queues, list) or not all(isinstance(q, str) for q in queues):
        raise EventJsonError(f"{where}: 'queues' must be a list of queue names")
    prefetch = obj.get("prefetch", 1)
    if not _is_int(prefetch):
        raise EventJsonError(f"{where}: 'prefetch' must be an integer")
    policy = _text(obj, "on_failure", where, "requeue")
    if policy not in FAILURE_POLICIES:
        raise EventJsonError(f"{where}: 'on_failure' must be one of {', '.join(FAILURE_POLICIES)}")
    return ConsumerSpec(
        name=_text(obj, "name", where),
        queues=tuple(queues),
        prefetch=prefetch,
        work_seconds=_number(obj.get("work_seconds", 0.0), f"{where}: 'work_seconds'"),
        on_failure=typing.cast(Any, policy),
        arguments=dict(_table(obj, "arguments", where)),
        manual=_flag(obj, "manual", where, False),
    )


_ENTITIES: dict[str, Callable[[Mapping[str, Any], str], Entity]] = {
    "exchange": _exchange,
    "queue": _queue,
    "binding": _binding,
    "consumer": _consumer,
}


# -- field checks -----------------------------------------------------------------------------------
Check = Callable[[Any, str], Any]
"""A field's check: the value as the field holds it (lists become tuples), or EventJsonError naming
`where`."""
Plan = tuple[tuple[str, bool, Check, str], ...]
_PLANS: dict[type[FlowEvent], Plan] = {}


def _plan(cls: type[FlowEvent]) -> Plan:
    """Each field but msg and ts: its name, whether it must be given, its check and what an error
    calls it (made once per class: a replay reads tens of thousands of lines a second)."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        plan = _PLANS[cls] = tuple(
            (
                f.name,
                f.default is MISSING and f.default_factory is MISSING,
                _check_for(hints[f.name]),
                f"event {cls.kind!r}: {f.name!r}",
            )
            for f in fields(cls)
            if f.name not in ("msg", "ts")
        )
    return plan


def _check_for(hint: Any) -> Check:
    """The check for a field typed `hint`."""
    if hint is Any:
        return _anything
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        check = _check_for(inner)
        return lambda value, where: None if value is None else check(value, where)
    if origin is tuple:
        return _strings
    if origin is not None and issubclass(origin, Mapping):
        return _object
    simple = {bool: _boolean, int: _integer, float: _number, str: _string}.get(hint)
    if simple is None:
        raise TypeError(f"no JSON check for field type {hint!r}")  # a new field type: a bug here
    return simple


def _anything(value: Any, where: str) -> Any:
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EventJsonError(f"{where} must be a list of strings")
    return tuple(value)


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EventJsonError(f"{where} must be an object")
    return value


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise EventJsonError(f"{where} must be true or false")
    return value


def _integer(value: Any, where: str) -> int:
    if not _is_int(value):
        raise EventJsonError(f"{where} must be an integer")
    return int(value)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise EventJsonError(f"{where} must be a string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventJsonError(f"{where} must be a number")
    return float(value) if isinstance(value, int) else value


def _text(obj: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise EventJsonError(f"{where}: {key!r} must be a string" if key in obj else f"{where}: no {key!r}")
    return value


def _flag(obj: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise EventJsonError(f"{where}: {key!r} must be true or false")
    return value


def _table(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = obj.get(key, {})
    if not isinstance(value, dict):
        raise EventJsonError(f"{where}: {key!r} must be an object")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
