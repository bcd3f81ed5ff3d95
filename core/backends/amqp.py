"""RabbitMQ over AMQP 0-9-1 (amqp:// and pyamqp://): the real broker, observed from the outside.

RabbitMQ does not tell a client where a message went, so routing is predicted with core.routing (the
router the in-process broker runs, here over the scenario's bindings) and corrected by basic.return
(every publish is mandatory); publisher confirms make that exact, because RabbitMQ sends the return
before the confirm. Dead-lettering by TTL or max-length is learned from
the x-death header when the dead-lettered copy is delivered.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp
from kombu import Connection
from kombu.exceptions import OperationalError

from core.backends.base import Backend, BrokerUrlError, Emit
from core.events import DeadLettered, Expired
from core.topology import Topology

AMQP_SCHEMES = ("amqp", "pyamqp")
CONNECT_TIMEOUT = 3.0

LOST_ERRORS: tuple[type[BaseException], ...] = (
    *amqp.Connection.connection_errors,
    *amqp.Connection.recoverable_connection_errors,  # includes MessageNacked: resent after reconnect
    OperationalError,
    ConnectionError,
    OSError,
    # A queue that vanished with the broker's data comes back when the producer re-declares it.
    amqp.exceptions.NotFound,
)
"""Errors that mean the broker (or the topology it held) went away: reconnect, do not crash."""


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from any text (broker errors, exception messages)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    candidates = {p for p in (password, unquote(password) if password else None) if p}
    for secret in candidates:
        text = text.replace(secret, "****")
    return text


ENCODE_HINT = "percent-encode / ? # @ in the user and password"


def check_amqp_url(url: str) -> None:
    """Refuse, in one line, an amqp:// URL kombu could not use. The message never quotes the URL:
    when a password holds an unencoded `/`, `?` or `#`, it lands in the host or port part."""
    after_scheme = url.partition("://")[2]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        what = "the port is not a number" if "Port could not be cast" in str(exc) else "bad port or host"
        raise BrokerUrlError(f"broker URL is malformed: {what} ({ENCODE_HINT})") from None
    if "@" in after_scheme and "@" not in parts.netloc:
        raise BrokerUrlError(f"broker URL is malformed: '@' after the host ({ENCODE_HINT})")
    if not parts.hostname:
        raise BrokerUrlError("broker URL names no host (amqp://user:pass@host:port/vhost)")
    if port == 0:
        raise BrokerUrlError("broker URL port must be 1-65535")
    if parts.query or parts.fragment:
        raise BrokerUrlError(f"broker URL: query strings and fragments are not supported ({ENCODE_HINT})")


class AmqpBackend(Backend):
    """RabbitMQ: faithful by definition; routing predicted, corrected by returns; confirms on."""

    name = "RabbitMQ"
    faithful = True
    reports_routing = False
    detects_returns = True
    route_source = "predicted"

    def __init__(self, url: str, *, confirm_publish: bool = True) -> None:
        check_amqp_url(url)
        super().__init__(url)
        self.confirm_publish = confirm_publish
        """Publisher confirms: publish() returns once RabbitMQ has the message (or raises)."""
        self._topology: Topology | None = None
        self._reported: set[tuple[str, str, str, int]] = set()
        self._lock = threading.Lock()

    def connection(self) -> Connection:
        return Connection(
            self.url,
            transport_options={"confirm_publish": self.confirm_publish},
            connect_timeout=CONNECT_TIMEOUT,
        )

    def attach(self, emit: Emit, topology: Topology) -> None:
        self._topology = topology

    def topology_changed(self, topology: Topology) -> None:
        if self._topology is not None:  # predictions follow the bindings as they are now
            self._topology = topology

    def routed(
        self, channel: Any, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> tuple[str, ...] | None:
        """The prediction, emitted before publishing; a basic.return then reports it went nowhere."""
        if self._topology is None:
            return None
        return self._topology.binding_table.route(exchange, routing_key, headers).queues

    def queue_depth(self, channel: Any, queue: str) -> tuple[int, int | None]:
        """Passive declare on the engine's depth channel: ready count only (unacked is tracked)."""
        _name, ready, _consumers = channel.queue_declare(queue=queue, passive=True)
        return int(ready), None

    def consumer_connection_lost(self, exc: BaseException) -> bool:
        return isinstance(exc, LOST_ERRORS)

    def on_delivery(self, emit: Emit, msg: str, queue: str, headers: Mapping[str, Any]) -> None:
        """A dead-lettered copy carries x-death: report expiry / overflow RabbitMQ did silently."""
        deaths = headers.get("x-death") if headers else None
        if not isinstance(deaths, list) or not deaths or not isinstance(deaths[0], Mapping):
            return
        death = deaths[0]  # RabbitMQ puts the most recent death first
        reason, source = str(death.get("reason", "")), str(death.get("queue", ""))
        if reason == "rejected" or not source:
            return  # the rejecting consumer already reported it (after_reject)
        count = int(death.get("count", 1) or 1)
        with self._lock:
            key = (msg, source, reason, count)
            if key in self._reported:
                return
            self._reported.add(key)
        exchange = str(death.get("exchange", ""))
        keys = death.get("routing-keys") or []
        routing_key = str(keys[0]) if isinstance(keys, list) and keys else ""
        if reason == "expired":
            emit(Expired(msg=msg, queue=source))
        spec = self._topology.queue(source) if self._topology else None
        dlx = spec.dead_letter_exchange if spec and spec.dead_letter_exchange else ""
        dl_key = spec.dead_letter_routing_key if spec and spec.dead_letter_routing_key else routing_key
        predicted: tuple[str, ...] = ()
        if self._topology is not None and dlx:
            predicted = self._topology.binding_table.route(dlx, dl_key, headers).queues
        emit(
            DeadLettered(
                msg=msg,
                queue=source,
                reason=reason,
                exchange=dlx or exchange,
                routing_key=dl_key,
                queues=predicted or (queue,),
            )
        )
