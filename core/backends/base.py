"""What the flow engine needs to know about a broker, beyond what kombu already abstracts.

Each broker kind (in-process, kombu memory://, RabbitMQ) answers: how to connect, where a published
message went, how deep a queue is, and whether its behaviour matches RabbitMQ's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kombu import Connection

from core.errors import InputError
from core.events import DeadLettered, Dropped, FlowEvent, Requeued
from core.queue_arguments import refused_reason
from core.topology import Topology
from core.topology_changes import TopologyChange, apply_change

Emit = Callable[[FlowEvent], None]


def mask_password(url: str) -> str:
    """`url` with its password replaced by ***, whatever the password holds.

    Everything between "://" and the last "@" is taken as user:password, so an unencoded "/", "?"
    or "#" in a password cannot move it into the host part and out into the open (it can only
    over-mask an "@" in a path, which is safe).
    """
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0:
        return url if "@" not in url else "<broker URL hidden: it holds credentials>"
    user, colon, _password = rest[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}"


class BrokerUrlError(InputError):
    """A broker URL mqscope cannot use; str() is one line and never shows a password."""


class Backend:
    """Base backend: a kombu URL plus the broker-specific knowledge the engine asks for."""

    name = "broker"
    faithful = False
    """True when this broker routes, requeues and dead-letters as RabbitMQ does."""
    reports_routing = False
    """True when the broker itself emits routed/dead-lettered/expired/returned events."""
    detects_returns = False
    """True when every publish is mandatory and basic.return tells the engine a message was unroutable."""
    transport_options: Mapping[str, Any] = {}
    transport_defects: tuple[type[BaseException], ...] = ()
    """Errors the transport raises on publish for a message it cannot route (shown, not fatal)."""
    route_source = "predicted"
    """What `routed` answers from: "transport" (the broker's own lookup) or "predicted"."""

    def __init__(self, url: str) -> None:
        self.url = url

    def connection(self) -> Connection:
        """A new kombu Connection; each thread opens its own (connections are not thread-safe)."""
        return Connection(self.url, transport_options=dict(self.transport_options))

    def display_url(self) -> str:
        """The URL with any password masked, for screens and logs."""
        return mask_password(self.url)

    def unsupported(self, topology: Topology) -> str | None:
        """Why this broker cannot run `topology` at all (one line), or None."""
        return None

    def discard_state(self) -> None:
        """Empty broker state that lives in this process (a reset); a real broker is left alone."""

    def change_unsupported(self, topology: Topology, change: TopologyChange) -> str | None:
        """Why this broker cannot make `change` to `topology` (one line), or None."""
        return self.unsupported(apply_change(topology, change))

    def topology_changed(self, topology: Topology) -> None:
        """The topology changed while attached (brokers that predict from it keep the new one)."""

    def attach(self, emit: Emit, topology: Topology) -> None:
        """Start reporting broker-side events through `emit` (only brokers that can)."""

    def detach(self) -> None:
        """Stop reporting broker-side events."""

    def routed(
        self, channel: Any, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> tuple[str, ...] | None:
        """Queues a just-published message went to, or None when the broker reports it itself."""
        return None

    def queue_depth(self, channel: Any, queue: str) -> tuple[int, int | None]:
        """(ready, unacked) for a queue; unacked is None when the broker cannot tell."""
        _name, ready, _consumers = channel.queue_declare(queue=queue, passive=True)
        return int(ready), None

    def after_reject(
        self,
        emit: Emit,
        topology: Topology,
        msg: str,
        queue: str,
        *,
        requeue: bool,
        reason: str = "rejected",
        routing_key: str = "",
    ) -> None:
        """Report what the broker does with a rejected copy, for brokers that do not report it:
        a dead letter goes with the queues RabbitMQ routes it to (`routing_key`: the message's own,
        used when the queue sets no x-dead-letter-routing-key)."""
        if self.reports_routing:
            return
        if requeue:
            emit(Requeued(msg=msg, queue=queue, reason=reason))
            return
        spec = topology.queue(queue)
        dlx = spec.dead_letter_exchange if spec else None
        if dlx is None:
            emit(
                Dropped(
                    msg=msg,
                    queue=queue,
                    reason="rejected, and the queue has no dead-letter exchange",
                )
            )
            return
        key = spec.dead_letter_routing_key if spec and spec.dead_letter_routing_key else routing_key
        table = topology.binding_table
        queues = table.route(dlx, key).queues if dlx == "" or table.exchange(dlx) is not None else ()
        emit(
            DeadLettered(
                msg=msg, queue=queue, reason="rejected", exchange=dlx, routing_key=key, queues=queues
            )
        )

    def give_back(
        self, emit: Emit, topology: Topology, message: Any, msg: str, queue: str, reason: str
    ) -> None:
        """Hand back a delivered copy the consumer will not work on (basic.reject, requeue=True):
        RabbitMQ puts it back at its place in `queue`, marked redelivered; reported as Requeued."""
        message.reject(requeue=True)
        self.after_reject(emit, topology, msg, queue, requeue=True, reason=reason)

    def after_nack(
        self, emit: Emit, topology: Topology, msg: str, exchange: str, routing_key: str,
        headers: Mapping[str, Any],
    ) -> None:
        """The broker nacked a publish under confirms: on RabbitMQ, a queue's x-overflow
        reject-publish refused it. Its copy there is reported dropped; a reject-publish-dlx queue's
        copy is learnt from x-death when the dead-lettered copy is delivered (dropped when that
        queue has no dead-letter exchange). RabbitMQ does not say which queue refused: each such
        queue the message was routed to is taken to have refused it."""
        table = topology.binding_table
        known = exchange == "" or table.exchange(exchange) is not None
        for name in table.route(exchange, routing_key, headers).queues if known else ():
            spec = topology.queue(name)
            arguments = spec.queue_arguments() if spec is not None else {}
            mode = arguments.get("x-overflow")
            no_dlx = spec is None or not spec.dead_letter_exchange
            if mode == "reject-publish" or (mode == "reject-publish-dlx" and no_dlx):
                emit(Dropped(msg=msg, queue=name, reason=refused_reason(arguments)))

    def pause_notice(self, consumer: str, queues: tuple[str, ...]) -> str | None:
        """Where pausing `consumer` behaves unlike RabbitMQ on this broker (one line), or None."""
        return None

    def after_crash(self, emit: Emit, in_hand: list[tuple[str, str]]) -> None:
        """Report the copies a crashed consumer held, for brokers that do not report it."""
        if self.reports_routing:
            return
        for msg, queue in in_hand:
            emit(Requeued(msg=msg, queue=queue, reason="consumer crashed"))

    def on_delivery(self, emit: Emit, msg: str, queue: str, headers: Mapping[str, Any]) -> None:
        """Learn from a delivery's headers what the broker did silently (e.g. x-death on RabbitMQ)."""

    def consumer_connection_lost(self, exc: BaseException) -> bool:
        """True when `exc` means the broker went away (retry), False when it is a bug (raise)."""
        return False
