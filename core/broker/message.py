"""One message copy inside the in-process broker, and RabbitMQ's per-message bookkeeping.

A published message becomes one Envelope per queue it reaches; body, headers and properties are
shared (never mutated), while redelivered flag, TTL deadline and queue position belong to the copy.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(slots=True, eq=False)
class Envelope:
    """A message copy as a queue holds it; treated as immutable (requeue and dead-lettering make
    new ones), but not frozen: frozen dataclasses cost a setattr call per field on every copy."""

    body: Any
    content_type: str | None
    content_encoding: str | None
    headers: Mapping[str, Any]
    properties: Mapping[str, Any]
    exchange: str
    routing_key: str
    msg_id: str
    redelivered: bool = False
    deadline: float | None = None
    """Monotonic time after which the copy expires while it waits in its queue (None: never)."""
    seq: int = 0
    """Position in its queue: requeued copies go back in front of every later one (RabbitMQ)."""

    def copy(
        self, *, seq: int | None = None, deadline: float | None = None, redelivered: bool = False
    ) -> Envelope:
        """This copy with a new queue position, deadline and redelivered flag (the hot path)."""
        return Envelope(
            self.body,
            self.content_type,
            self.content_encoding,
            self.headers,
            self.properties,
            self.exchange,
            self.routing_key,
            self.msg_id,
            redelivered,
            deadline,
            self.seq if seq is None else seq,
        )

    def redelivery(self) -> Envelope:
        """The same copy, marked redelivered, as RabbitMQ hands it back after a requeue."""
        return self.copy(deadline=self.deadline, redelivered=True)


def body_size(body: Any) -> int:
    """A body's size in bytes as RabbitMQ counts it for x-max-length-bytes (body only)."""
    if body is None:
        return 0
    if isinstance(body, bytes | bytearray | memoryview):
        return len(body)
    return len(str(body).encode("utf-8"))


def expiration_ms(properties: Mapping[str, Any]) -> int | None:
    """The per-message TTL (AMQP `expiration`, milliseconds as a string); None when absent or bad.

    RabbitMQ refuses a malformed expiration with a channel error; the caller decides what to do with
    `ValueError` raised here for a present but unusable value.
    """
    raw = properties.get("expiration")
    if raw is None or raw == "":
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise ValueError(f"expiration must be milliseconds as digits, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"expiration must be >= 0 milliseconds, not {value}")
    return value


wall_clock = time.time
"""Where x-death's `time` comes from (seconds since the epoch); tests pin it so snapshots hold still."""


def with_x_death(
    envelope: Envelope, *, queue: str, reason: str, now: float | None = None
) -> dict[str, Any]:
    """Headers for a dead-lettered copy: RabbitMQ's `x-death` list plus `x-first-death-*`.

    One x-death entry per (queue, reason), newest first; a repeat increments `count` and moves the
    entry to the front, as RabbitMQ 3.x does.
    """
    headers = dict(envelope.headers)
    stamp = int(wall_clock() if now is None else now)
    deaths = [dict(d) for d in headers.get("x-death") or [] if isinstance(d, Mapping)]
    previous = next(
        (d for d in deaths if d.get("queue") == queue and d.get("reason") == reason), None
    )
    if previous is not None:
        deaths.remove(previous)
        entry = previous
        entry["count"] = int(entry.get("count", 0)) + 1
        entry["time"] = stamp
    else:
        entry = {
            "count": 1,
            "reason": reason,
            "queue": queue,
            "time": stamp,
            "exchange": envelope.exchange,
            "routing-keys": [envelope.routing_key],
        }
        original = envelope.properties.get("expiration")
        if original not in (None, ""):
            entry["original-expiration"] = str(original)
    headers["x-death"] = [entry, *deaths]
    headers.setdefault("x-first-death-reason", reason)
    headers.setdefault("x-first-death-queue", queue)
    headers.setdefault("x-first-death-exchange", envelope.exchange)
    return headers


def dead_letter_copy(
    envelope: Envelope, *, queue: str, reason: str, exchange: str, routing_key: str
) -> Envelope:
    """The copy republished to a dead-letter exchange: new headers, no per-message expiration."""
    properties = {k: v for k, v in envelope.properties.items() if k != "expiration"}
    return replace(
        envelope,
        headers=with_x_death(envelope, queue=queue, reason=reason),
        properties=properties,
        exchange=exchange,
        routing_key=routing_key,
        redelivered=False,
        deadline=None,
        seq=0,
    )


def dead_letter_cycle(headers: Mapping[str, Any], target_queue: str, reason: str) -> bool:
    """True when dead-lettering into `target_queue` closes a fully automatic cycle (RabbitMQ drops it).

    As rabbit_dead_letter:detect_cycles: a reject never counts as a cycle; otherwise the copy has
    been in `target_queue` before (per its x-death, newest first) with no reject since then.
    """
    if reason == "rejected":
        return False
    deaths = [d for d in headers.get("x-death") or [] if isinstance(d, Mapping)]
    for index, death in enumerate(deaths):
        if death.get("queue") == target_queue:
            return all(d.get("reason") != "rejected" for d in deaths[: index + 1])
    return False
