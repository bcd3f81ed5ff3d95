"""What one firehose trace message says, decoded from RabbitMQ's headers and nothing inferred.

RabbitMQ 3.10 (rabbit_trace.erl) publishes to the topic exchange `amq.rabbitmq.trace` of each traced
vhost, routing key `publish.<exchange>` when a message is published and `deliver.<queue>` when a
copy is delivered (to a consumer or by basic.get). The trace message's body is the message's own
body; its headers (captured from a real 3.10.8 node in tests/data/firehose_trace_3_10_8.json) are:
  exchange_name   the exchange the message was published to ("" for the default exchange)
  routing_keys    the routing key, then any CC/BCC keys
  properties      the message's AMQP properties as a table (its own `headers` among them)
  routed_queues   publish only: the queues RabbitMQ put it in (empty: unroutable)
  redelivered     deliver only: 0 or 1
  node, vhost, connection, channel, user   who published or who was delivered to
Acks, rejects, requeues, expiry and dead-lettering are not traced (rabbitmq-server#12878), and the
deliveries of trace messages themselves are not traced either (RabbitMQ skips its own exchange).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TRACE_EXCHANGE = "amq.rabbitmq.trace"
BINDING_KEYS = ("publish.#", "deliver.#")

PROPERTY_NAMES = (
    "priority",
    "expiration",
    "correlation_id",
    "reply_to",
    "timestamp",
    "type",
    "user_id",
    "app_id",
)
"""The AMQP properties a Delivered event carries (as core.events.Delivered.properties says)."""


class TraceError(ValueError):
    """A message on the trace exchange that is not a trace RabbitMQ 3.x writes: one line why."""


@dataclass(frozen=True, slots=True)
class Trace:
    """One trace: a publish (`queue` None, `routed_queues` set) or a delivery (`queue` set)."""

    exchange: str
    routing_keys: tuple[str, ...]
    properties: Mapping[str, Any]
    body: bytes
    queue: str | None = None
    routed_queues: tuple[str, ...] = ()
    redelivered: bool = False
    connection: str = ""
    channel: int = 0

    @property
    def routing_key(self) -> str:
        return self.routing_keys[0] if self.routing_keys else ""

    @property
    def headers(self) -> Mapping[str, Any]:
        """The message's own headers (from its properties), not the trace's."""
        value = self.properties.get("headers")
        return value if isinstance(value, Mapping) else {}

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """What a delivery and its publish have in common when no message id is set: where it was
        published, with which keys, carrying which body and identifying properties."""
        props = self.properties
        return (
            self.exchange,
            self.routing_keys,
            props.get("message_id"),
            props.get("correlation_id"),
            props.get("timestamp"),
            self.body,
        )

    def shown_body(self) -> Any:
        """JSON bodies decoded, anything else by size and content type (never deserialized)."""
        kind = self.properties.get("content_type")
        if kind == "application/json":
            try:
                return json.loads(self.body)
            except (ValueError, RecursionError):
                pass
        return f"<{kind or 'unknown'} body, {len(self.body)} bytes, not decoded>"

    def shown_properties(self) -> dict[str, Any]:
        return {k: self.properties[k] for k in PROPERTY_NAMES if self.properties.get(k) is not None}


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse_trace(routing_key: str, headers: Mapping[str, Any] | None, body: bytes | str) -> Trace:
    """Decode one trace message (its routing key on amq.rabbitmq.trace, headers and body)."""
    headers = headers or {}
    what, _, name = routing_key.partition(".")
    if what not in ("publish", "deliver") or "exchange_name" not in headers:
        raise TraceError(f"not a firehose trace: routing key {routing_key!r}")
    keys = headers.get("routing_keys") or []
    props = headers.get("properties") or {}
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    common: dict[str, Any] = {
        "exchange": _text(headers["exchange_name"]),
        "routing_keys": tuple(_text(k) for k in keys),
        "properties": props if isinstance(props, Mapping) else {},
        "body": raw,
        "connection": _text(headers.get("connection", "")),
        "channel": int(headers.get("channel") or 0),
    }
    if what == "publish":
        routed = headers.get("routed_queues")
        if routed is None:
            raise TraceError("publish trace without routed_queues (RabbitMQ older than 3.8?)")
        return Trace(routed_queues=tuple(sorted(_text(q) for q in routed)), **common)
    return Trace(queue=name, redelivered=bool(headers.get("redelivered")), **common)
