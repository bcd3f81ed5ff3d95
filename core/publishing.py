"""Publish requests: validated messages with their ids fixed up front, queued for the producer thread."""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InputError
from core.text import utf8_problem, visible
from core.topology_changes import TopologyChange

MAX_DEPTH = 32
"""Nesting of header tables and bodies at most: a thousand levels would overflow the encoder's stack."""
INT64 = (-(2**63), 2**63 - 1)
"""The integers an AMQP field table carries (signed 64-bit, 'l')."""
MAX_SHORTSTR = 255


class PublishError(InputError):
    """A publish request that cannot be sent (bad key, unknown exchange, non-JSON body)."""


def field_table_problem(table: Mapping[Any, Any], what: str = "headers") -> str | None:
    """Why `table` cannot go on the wire as an AMQP field table RabbitMQ accepts, or None.

    Keys are strings of at most 255 UTF-8 bytes; values are strings, booleans, 64-bit integers,
    finite floats, None, or arrays and tables of those, nested at most MAX_DEPTH deep. RabbitMQ
    closes the connection on a NaN (INTERNAL_ERROR) and on pyamqp's timestamps (FRAME_ERROR):
    refused here, before sending, in one line."""
    return _table_problem(table, what, 1)


def _table_problem(table: Mapping[Any, Any], where: str, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"{where}: nested more than {MAX_DEPTH} deep"
    for key, value in table.items():
        if not isinstance(key, str):
            return f"{where}: key {key!r} is not a string"
        if (p := utf8_problem(f"{where} key", key)) is not None:
            return p
        if len(key.encode("utf-8")) > MAX_SHORTSTR:
            return f"{where}: key '{visible(key[:20])}'... is longer than 255 bytes"
        if (p := _value_problem(value, f"{where}.{visible(key)}", depth)) is not None:
            return p
    return None


def _value_problem(value: Any, where: str, depth: int) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return utf8_problem(where, value)
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            return f"{where}: integer {value} does not fit in 64 bits"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where}: {value} is not a finite number"
    if isinstance(value, Mapping):
        return _table_problem(value, where, depth + 1)
    if isinstance(value, (list, tuple)):
        if depth + 1 > MAX_DEPTH:
            return f"{where}: nested more than {MAX_DEPTH} deep"
        for i, item in enumerate(value):
            if (p := _value_problem(item, f"{where}[{i}]", depth + 1)) is not None:
                return p
        return None
    return f"{where}: a {type(value).__name__} cannot be sent in an AMQP header"


def body_problem(body: Any, what: str = "body") -> str | None:
    """Why `body` cannot be sent as JSON (what kombu's serializer and every consumer read), or None:
    strings, numbers (finite), booleans, null, arrays and objects with string keys, nested at most
    MAX_DEPTH deep."""
    return _json_problem(body, what, 0)


def _json_problem(value: Any, where: str, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"{where}: nested more than {MAX_DEPTH} deep"
    if value is None or isinstance(value, (bool, int)):
        return None
    if isinstance(value, str):
        return utf8_problem(where, value)
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where}: {value} is not a JSON number"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where}: key {key!r} is not a string"
            if (p := utf8_problem(f"{where} key", key)) is not None:
                return p
            if (p := _json_problem(item, f"{where}.{visible(key)}", depth + 1)) is not None:
                return p
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if (p := _json_problem(item, f"{where}[{i}]", depth + 1)) is not None:
                return p
        return None
    return f"{where}: a {type(value).__name__} is not JSON"


def name_text_problem(what: str, text: str) -> str | None:
    """Why `text` cannot be an AMQP name (exchange, routing key): not UTF-8, or holding control
    characters (RabbitMQ takes them, but every log and terminal that shows them is at their mercy)."""
    if (p := utf8_problem(what, text)) is not None:
        return p
    if visible(text) != text:
        return f"{what} '{visible(text)}' holds control characters"
    return None


@dataclass(frozen=True)
class PublishRequest:
    """A message for the producer thread to send, with its id fixed up front."""

    msg: str
    exchange: str
    routing_key: str
    body: Any = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    mandatory: bool = False
    expiration: float | None = None
    priority: int | None = None
    """AMQP priority: orders the copy in queues with x-max-priority (capped there)."""


@dataclass(frozen=True)
class TopologyRequest:
    """A topology change for the producer thread to make on the broker, in order with the messages.

    `done` is set once the change is made and reported (a consumer it declares starts then);
    `retires` is set at the same moment, to stop the consumer loop that the change replaces or deletes;
    `retired` is set once that loop has ended: the producer waits for it before the change counts as
    made, so a message published after the change can never reach the old loop (its old policy).
    """

    change: TopologyChange
    origin: str
    done: threading.Event = field(default_factory=threading.Event)
    refused: threading.Event = field(default_factory=threading.Event)
    retires: threading.Event | None = None
    retired: threading.Event | None = None

    @property
    def outstanding(self) -> bool:
        """Not yet made nor refused by the broker."""
        return not (self.done.is_set() or self.refused.is_set())


Request = PublishRequest | TopologyRequest


class RequestQueue:
    """Requests from any thread to the producer thread, in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Request] = queue.Queue()

    def put(self, request: Request) -> None:
        self._queue.put(request)

    def waiting(self) -> int:
        """Requests not yet taken (approximate, as queue.Queue.qsize is): producers hold back above
        a limit (core.producers.MAX_WAITING)."""
        return self._queue.qsize()

    def take(self, timeout: float | None) -> Request | None:
        """The next request (None: none within `timeout`; None timeout: only one already waiting)."""
        try:
            if timeout is None:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


MAX_TTL_SECONDS = (2**32 - 1) / 1000
"""RabbitMQ's largest message TTL (x-message-ttl, expiration): 2^32-1 milliseconds, ~49.7 days."""


def seconds_problem(what: str, value: float, *, most: float) -> str | None:
    """Why `value` is not a usable number of seconds in [0, most] (NaN, infinite, negative, huge)."""
    if not math.isfinite(value):
        return f"{what} must be a finite number of seconds, not {value}"
    if not 0 <= value <= most:
        return f"{what} must be between 0 and {most:g} seconds, not {value:g}"
    return None


def publish_problem(
    exchange: str, routing_key: str, body: Any, headers: Mapping[Any, Any], expiration: float | None
) -> str | None:
    """Why this publish cannot be sent as it is (checked before it reaches the producer), or None."""
    return (
        name_text_problem("exchange", exchange)
        or utf8_problem("routing key", routing_key)
        or body_problem(body)
        or field_table_problem(headers)
        or (None if expiration is None else seconds_problem("expiration", expiration, most=MAX_TTL_SECONDS))
    )
