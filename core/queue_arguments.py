"""RabbitMQ's queue arguments: which the in-process broker models, and RabbitMQ's own checks of them.

One place for both the scenario checks (a one-line error before anything is declared) and the
in-process broker's queue.declare (a 406 with RabbitMQ's text), so the two can never disagree.
The refusal texts are RabbitMQ 3.10's, measured on a loopback node: `invalid arg 'x-overflow' for
queue 'q' in vhost '/': invalid_overflow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OVERFLOW_MODES = ("drop-head", "reject-publish", "reject-publish-dlx")
QUEUE_TYPES = ("classic", "quorum")
MAX_PRIORITY = 255

MODELLED = (
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-message-ttl",
    "x-max-length",
    "x-max-length-bytes",
    "x-overflow",
    "x-expires",
    "x-max-priority",
    "x-queue-type",
    "x-delivery-limit",
    "x-single-active-consumer",
)
"""The arguments mqscope:// carries out as RabbitMQ does; any other is refused there, never ignored."""

_NON_NEGATIVE = ("x-message-ttl", "x-max-length", "x-max-length-bytes", "x-delivery-limit")
_CLASSIC_ONLY = ("x-max-priority",)
_QUORUM_ONLY = ("x-delivery-limit",)


def unmodelled(arguments: Mapping[str, Any]) -> str | None:
    """The first argument the in-process broker does not model (sorted), or None."""
    return next((k for k in sorted(arguments) if k not in MODELLED), None)


def queue_type(arguments: Mapping[str, Any]) -> str:
    """`classic` unless x-queue-type says otherwise."""
    return str(arguments.get("x-queue-type") or "classic")


def value_problem(name: str, value: Any) -> str | None:
    """RabbitMQ's reason (its own words) for refusing this value of a modelled argument, or None."""
    if name in ("x-dead-letter-exchange", "x-dead-letter-routing-key", "x-overflow", "x-queue-type"):
        if not isinstance(value, str):
            return f'"expected string, got {_amqp_type(value)}"'
        if name == "x-overflow" and value not in OVERFLOW_MODES:
            return "invalid_overflow"
        if name == "x-queue-type" and value not in QUEUE_TYPES:
            return f"\"unsupported queue type '{value}'\""
        return None
    if name not in MODELLED:
        return None
    if name == "x-single-active-consumer":
        return None  # a scenario's own check words it (core.topology); the broker reads only `true`
    if isinstance(value, bool) or not isinstance(value, int):
        return f'"expected integer, got {_amqp_type(value)}"'
    if value < 0:
        return f"{{value_negative,{value}}}"
    if name == "x-expires" and value == 0:
        return "{value_zero,0}"
    if name == "x-max-priority" and value > MAX_PRIORITY:
        return f"{{max_value_exceeded,{value}}}"
    return None


def _amqp_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "longstr"
    if isinstance(value, float):
        return "double"
    if isinstance(value, int):
        return "long"
    return type(value).__name__


def declare_problem(
    name: str,
    arguments: Mapping[str, Any],
    *,
    durable: bool = True,
    exclusive: bool = False,
    auto_delete: bool = False,
) -> str | None:
    """What RabbitMQ 3.10 answers (after `PRECONDITION_FAILED - `) to this queue.declare, or None.

    Covers the values of the modelled arguments and what a queue type refuses: a quorum queue is
    durable, not exclusive, not auto-delete and has no priorities; x-delivery-limit is quorum's.
    """
    where = f"for queue '{name}' in vhost '/'"
    for key in sorted(arguments):
        if (problem := value_problem(key, arguments[key])) is not None:
            return f"invalid arg '{key}' {where}: {problem}"
    kind = queue_type(arguments)
    wrong = _CLASSIC_ONLY if kind == "quorum" else _QUORUM_ONLY
    for key in sorted(arguments):
        if key in wrong:
            return f"invalid arg '{key}' {where} of queue type rabbit_{kind}_queue"
    if kind == "quorum":  # checked in this order by rabbit_quorum_queue:declare (measured)
        properties = (
            ("auto-delete", auto_delete),
            ("exclusive-owner", exclusive),
            ("non-durable", not durable),
        )
        for refused, flag in properties:
            if flag:
                return f"invalid property '{refused}' {where}"
    return None


def limits_text(arguments: Mapping[str, Any]) -> str:
    """`x-max-length 2, x-max-length-bytes 10`: the length limits among these arguments."""
    keys = ("x-max-length", "x-max-length-bytes")
    return ", ".join(f"{key} {arguments[key]}" for key in keys if arguments.get(key) is not None)


def refused_reason(arguments: Mapping[str, Any]) -> str:
    """Why a queue with x-overflow reject-publish did not take a copy (the Dropped reason)."""
    return f"rejected by queue: full ({limits_text(arguments)}, x-overflow reject-publish); publisher nacked"


__all__ = [
    "MAX_PRIORITY",
    "MODELLED",
    "OVERFLOW_MODES",
    "QUEUE_TYPES",
    "declare_problem",
    "limits_text",
    "queue_type",
    "refused_reason",
    "unmodelled",
    "value_problem",
]
