"""kombu transport for `mqscope://`: kombu's virtual Channel/Transport API over core.broker's model.

Every AMQP method goes straight to the Broker (kombu's virtual routing tables, polling cycle and QoS
are bypassed: they are what makes memory:// differ from RabbitMQ). drain_events blocks on the
connection's own condition variable, so a delivery wakes its consumer at once and idle costs nothing.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from amqp.exceptions import ChannelError as AMQPChannelError
from amqp.exceptions import MessageNacked, error_for_code
from amqp.protocol import queue_declare_ok_t
from kombu.transport import virtual
from kombu.transport.base import to_rabbitmq_queue_arguments
from kombu.utils.uuid import uuid

from core.broker.message import Envelope, expiration_ms
from core.broker.model import EXCHANGE_KINDS, Broker, BrokerError
from core.broker.registry import get_broker
from core.broker.session import Delivery
from core.json_body import CONTENT_TYPE, Decoder, kombu_json_in_use
from core.script_watch import ChannelWatch, body_value, current_watch

_TRANSPORT_PROPERTIES = ("delivery_info", "delivery_tag", "body_encoding")
_fallback_ids = itertools.count(1)


def _amqp_error(exc: BrokerError, method: str) -> Exception:
    """Broker refusals surface as the same amqp exceptions a RabbitMQ connection raises."""
    error: Exception = error_for_code(exc.code, str(exc), method, AMQPChannelError)
    return error


@contextmanager
def _amqp_errors(method: str) -> Iterator[None]:
    try:
        yield
    except BrokerError as exc:
        raise _amqp_error(exc, method) from None


class Message(virtual.Message):  # type: ignore[misc]
    """A delivery as kombu's Message; JSON bodies decode without kombu's per-message decoder set-up
    (core.json_body), exactly as kombu decodes them: same accept check first, same errors."""

    def _decode(self) -> Any:
        accept = self.accept
        if (
            self.content_type != CONTENT_TYPE
            or not self.body
            or accept is None
            or CONTENT_TYPE not in accept
            or not kombu_json_in_use()
        ):
            return super()._decode()
        return self.channel.json_decoder.loads(self.body)


class Channel(virtual.Channel):  # type: ignore[misc]
    """One AMQP channel on the in-process broker."""

    Message = Message
    do_restore = False
    body_encoding = None  # bodies stay as the bytes kombu serialized: nothing crosses a wire

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self.broker: Broker = connection.broker
        self.amqp = self.broker.open_channel(connection.session, owner=self)
        self.no_ack_consumers: set[str] = set()
        self.events: defaultdict[str, set[Callable[..., Any]]] = defaultdict(set)
        """Handlers for `basic_return` (kombu's Producer(on_return=...)), as on pyamqp channels."""
        self._by_tag: dict[str, Callable[[Any], Any]] = {}
        self.json_decoder = Decoder()
        """Its own: a channel is used by one thread (the one draining its connection)."""
        options = getattr(connection.client, "transport_options", None) or {}
        self.confirm_publish = bool(options.get("confirm_publish"))
        """kombu's `confirm_publish` transport option, as on pyamqp: a publish that a queue's
        x-overflow reject-publish refused raises MessageNacked (RabbitMQ's basic.nack)."""
        watch = current_watch(connection.client.transport_options)
        self.watch = None if watch is None else ChannelWatch(watch)
        """Set on the channels of a program run by --run: it reports what they do."""

    # -- declarations -------------------------------------------------------------------------
    def exchange_declare(
        self,
        exchange: str | None = None,
        type: str = "direct",
        durable: bool = False,
        auto_delete: bool = False,
        arguments: Mapping[str, Any] | None = None,
        nowait: bool = False,
        passive: bool = False,
    ) -> None:
        with _amqp_errors("Exchange.declare"):
            self.broker.declare_exchange(
                exchange or f"amq.{type or 'direct'}",
                type or "direct",
                durable=durable,
                auto_delete=auto_delete,
                arguments=arguments,
                passive=passive,
            )
        if self.watch is not None and not passive:
            self.watch.exchange_declared(exchange or "", type or "direct", durable, arguments)

    def exchange_delete(self, exchange: str, if_unused: bool = False, nowait: bool = False) -> None:
        self.broker.delete_exchange(exchange)
        if self.watch is not None:
            self.watch.exchange_deleted(exchange)

    def queue_declare(self, queue: str | None = None, passive: bool = False, **kwargs: Any) -> Any:
        with _amqp_errors("Queue.declare"):
            name, ready, consumers = self.broker.declare_queue(
                queue or "",
                arguments=kwargs.get("arguments"),
                passive=passive,
                durable=bool(kwargs.get("durable", True)),
                auto_delete=bool(kwargs.get("auto_delete")),
                exclusive=bool(kwargs.get("exclusive")),
                session=self.connection.session,
            )
        if self.watch is not None and not passive:
            self.watch.queue_declared(name, kwargs.get("arguments"), bool(kwargs.get("durable", True)))
        return queue_declare_ok_t(name, ready, consumers)

    def queue_delete(self, queue: str, if_unused: bool = False, if_empty: bool = False, **kwargs: Any) -> int:
        dropped = self.broker.delete_queue(queue, if_unused=if_unused, if_empty=if_empty)
        if self.watch is not None and queue not in self.broker.queue_names():
            self.watch.queue_deleted(queue)
        return dropped

    def queue_bind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str = "",
        arguments: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with _amqp_errors("Queue.bind"):
            self.broker.bind(queue, exchange or "amq.direct", routing_key or "", arguments)
        if self.watch is not None:
            self.watch.bound(queue, exchange or "amq.direct", routing_key or "", arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str = "",
        arguments: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.broker.unbind(queue, exchange or "amq.direct", routing_key or "", arguments)
        if self.watch is not None:
            self.watch.unbound(queue, exchange or "amq.direct", routing_key or "", arguments)

    def exchange_bind(
        self,
        destination: str,
        source: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Exchange-to-exchange binding (kombu's Exchange.bind_to); kombu's virtual channel has none."""
        with _amqp_errors("Exchange.bind"):
            self.broker.bind_exchange(destination, source, routing_key or "", arguments)

    def exchange_unbind(
        self,
        destination: str,
        source: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with _amqp_errors("Exchange.unbind"):
            self.broker.unbind_exchange(destination, source, routing_key or "", arguments)

    def queue_purge(self, queue: str, **kwargs: Any) -> int:
        with _amqp_errors("Queue.purge"):
            return self.broker.purge_queue(queue)

    def list_bindings(self) -> Iterator[tuple[str, str, str]]:
        return ((q, e, k) for e, k, q in self.broker.bindings())

    def _size(self, queue: str) -> int:
        return self.broker.depth(queue)[0]

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return queue in self.broker.queue_names()

    def prepare_queue_arguments(self, arguments: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """kombu's Queue(max_priority=, expires=, message_ttl=, max_length=...) as RabbitMQ's x-
        arguments, as kombu's pyamqp channel does (its virtual channels drop them silently)."""
        return dict(to_rabbitmq_queue_arguments(arguments, **kwargs))

    # -- publishing ---------------------------------------------------------------------------
    def basic_publish(
        self,
        message: dict[str, Any],
        exchange: str,
        routing_key: str,
        mandatory: bool = False,
        immediate: bool = False,
        **kwargs: Any,
    ) -> None:
        raw = message.get("properties") or {}
        properties = {k: v for k, v in raw.items() if k not in _TRANSPORT_PROPERTIES}
        msg_id = properties.get("message_id") or f"m{next(_fallback_ids)}"
        envelope = Envelope(
            body=message.get("body"),
            content_type=message.get("content-type"),
            content_encoding=message.get("content-encoding"),
            headers=dict(message.get("headers") or {}),
            properties=properties,
            exchange=exchange or "",
            routing_key=routing_key or "",
            msg_id=str(msg_id),
        )
        try:
            expiration_ms(properties)
        except ValueError as exc:  # a malformed expiration (only that: a ValueError of a bug stays one)
            refused = BrokerError(406, f"PRECONDITION_FAILED - {exc}")
            raise _amqp_error(refused, "Basic.publish") from None
        if self.watch is not None:  # said before the broker routes it (and reports where it went)
            body = body_value(envelope.body, envelope.content_type)
            self.watch.published(
                envelope.msg_id, envelope.exchange, envelope.routing_key, body, envelope.headers
            )
        try:
            outcome = self.broker.publish(envelope, mandatory=mandatory)
        except BrokerError as exc:
            raise _amqp_error(exc, "Basic.publish") from None
        if outcome.returned:
            error = error_for_code(312, "NO_ROUTE", "Basic.return", AMQPChannelError)
            returned = self.Message(self._payload(envelope, 0, "", False), channel=self)
            for handler in list(self.events["basic_return"]):
                handler(error, envelope.exchange, envelope.routing_key, returned)
        if outcome.refused and self.confirm_publish:
            raise MessageNacked()  # what pyamqp's basic_publish_confirm raises on basic.nack

    # -- consuming ----------------------------------------------------------------------------
    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, apply_global: bool = False) -> None:
        """global=false (kombu's default): per consumer, for consumers started next; global=true:
        one limit for the whole channel."""
        self.broker.qos(self.amqp, prefetch_count or 0, global_=bool(apply_global))

    def basic_consume(
        self,
        queue: str,
        no_ack: bool,
        callback: Callable[[Any], Any],
        consumer_tag: str | None,
        **kwargs: Any,
    ) -> str:
        tag = consumer_tag or uuid()
        self._by_tag[tag] = callback
        self._consumers.add(tag)
        self._tag_to_queue[tag] = queue
        if no_ack:
            self.no_ack_consumers.add(tag)
        if self.watch is not None:  # before the broker may deliver: the consumer exists first
            self.watch.consuming(tag, queue, self.amqp.prefetch)
        with _amqp_errors("Basic.consume"):
            self.broker.consume(self.amqp, queue, tag, no_ack=no_ack, arguments=kwargs.get("arguments"))
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """basic.cancel, as a pyamqp client does it: deliveries the broker sent before the cancel and
        the client had not read yet still reach the consumer's callback (pyamqp dispatches them while
        it waits for basic.cancel-ok), then the callback goes. The callback acks or rejects them; if
        it raises, the copies it did not get to go back unread (reported), as pyamqp rejects with
        requeue a delivery for a consumer tag it no longer knows."""
        in_flight = self.broker.cancel(self.amqp, consumer_tag)
        callback = self._by_tag.get(consumer_tag)
        handed = 0
        try:
            if callback is not None:
                for delivery in in_flight:
                    handed += 1
                    callback(self._message(delivery))
        finally:
            if handed < len(in_flight):
                self.broker.return_unread(self.amqp, in_flight[handed:])
            self._consumers.discard(consumer_tag)
            self._tag_to_queue.pop(consumer_tag, None)
            self._by_tag.pop(consumer_tag, None)
            self.no_ack_consumers.discard(consumer_tag)
            if self.watch is not None:
                self.watch.cancelled(consumer_tag)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        with _amqp_errors("Basic.get"):
            delivery = self.broker.get(self.amqp, queue, no_ack=no_ack)
        if delivery is not None and self.watch is not None:
            envelope = delivery.envelope
            self.watch.delivered(delivery.delivery_tag, envelope.msg_id, queue, envelope.redelivered, no_ack)
        return None if delivery is None else self._message(delivery)

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        if self.watch is not None:  # reported first: the ack may hand the next copy out at once
            self.watch.acked(delivery_tag, multiple)
        try:
            self.broker.ack(self.amqp, delivery_tag, multiple=multiple)
        except BrokerError as exc:
            raise _amqp_error(exc, "Basic.ack") from None

    def basic_reject(self, delivery_tag: int, requeue: bool = False, reason: str = "rejected") -> None:
        """basic.reject; `reason` (mqscope's own) only words the broker's Requeued report."""
        if self.watch is not None:
            self._watch_reject(delivery_tag, False, requeue)
        try:
            self.broker.reject(self.amqp, delivery_tag, requeue=requeue, reason=reason)
        except BrokerError as exc:
            raise _amqp_error(exc, "Basic.reject") from None

    def basic_nack(self, delivery_tag: int, multiple: bool = False, requeue: bool = True) -> None:
        if self.watch is not None:
            self._watch_reject(delivery_tag, multiple, requeue)
        with _amqp_errors("Basic.nack"):
            self.broker.reject(self.amqp, delivery_tag, requeue=requeue, multiple=multiple)

    def _watch_reject(self, delivery_tag: int, multiple: bool, requeue: bool) -> None:
        """Report a watched program's reject; the broker then reports where each copy went."""
        assert self.watch is not None
        held = self.amqp.unacked.get(delivery_tag)
        home = self.broker.queues.get(held.queue) if held is not None else None
        action = "requeue" if requeue else "drop"
        if not requeue and home is not None and home.dead_letter_exchange is not None:
            action = "dead_letter"
        self.watch.rejected(delivery_tag, multiple, requeue, action)

    def basic_recover(self, requeue: bool = False) -> None:
        if not requeue:
            raise NotImplementedError("mqscope:// supports basic_recover(requeue=True) only")
        self.broker.recover(self.amqp)

    def deliver(self, delivery: Delivery) -> None:
        """Hand a delivery to its consumer's callback (in the thread draining the connection)."""
        callback = self._by_tag.get(delivery.consumer_tag)
        if callback is None:  # a consumer tag this channel no longer knows: back, as pyamqp does
            self.broker.return_unread(self.amqp, [delivery])
            return
        if self.watch is not None:
            no_ack = delivery.consumer_tag in self.no_ack_consumers
            envelope = delivery.envelope
            self.watch.delivered(
                delivery.delivery_tag, envelope.msg_id, delivery.queue, envelope.redelivered, no_ack
            )
        callback(self._message(delivery))

    def _message(self, delivery: Delivery) -> Any:
        payload = self._payload(
            delivery.envelope,
            delivery.delivery_tag,
            delivery.consumer_tag,
            delivery.envelope.redelivered,
        )
        return self.Message(payload, channel=self)

    @staticmethod
    def _payload(envelope: Envelope, tag: int, consumer_tag: str, redelivered: bool) -> dict[str, Any]:
        properties = dict(envelope.properties)
        properties["delivery_tag"] = tag
        properties["delivery_info"] = {
            "exchange": envelope.exchange,
            "routing_key": envelope.routing_key,
            "consumer_tag": consumer_tag,
            "delivery_tag": tag,
            "redelivered": redelivered,
        }
        return {
            "body": envelope.body,
            "content-type": envelope.content_type,
            "content-encoding": envelope.content_encoding,
            "headers": dict(envelope.headers),
            "properties": properties,
        }

    def close(self) -> None:
        """Closing a channel hands its unacked messages back to their queues, redelivered."""
        if self.amqp.closed:
            return
        self.closed = True
        if self.watch is not None:
            self.watch.closed()
        self.broker.close_channel(self.amqp)
        self._consumers.clear()
        self._by_tag.clear()
        if self.connection is not None:
            self.connection.close_channel(self)


class Transport(virtual.Transport):  # type: ignore[misc]
    """One kombu connection to a named in-process broker."""

    Channel = Channel
    driver_type = "mqscope"
    driver_name = "mqscope"
    polling_interval = None
    channel_errors = (AMQPChannelError,)
    implements = virtual.Transport.implements.extend(exchange_type=frozenset(EXCHANGE_KINDS))

    def __init__(self, client: Any, **kwargs: Any) -> None:
        self.broker = get_broker(client.hostname)
        self.session = self.broker.open_session()
        super().__init__(client, **kwargs)
        watch = current_watch(client.transport_options)
        if watch is not None:  # stopping the run closes it, which wakes a drain_events() with no timeout
            watch.add_closer(lambda: self.broker.close_session(self.session))
            watch.on_connect("mqscope", self.broker)

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        """Wait on this connection's inbox (no polling), then run one delivery's callback."""
        delivery = self.session.take(timeout)
        delivery.channel.owner.deliver(delivery)

    def register_with_event_loop(self, connection: Any, loop: Any) -> None:
        """kombu's hub (Celery's worker loop) waits on file descriptors: give it the session's
        wake-up pipe, readable whenever deliveries wait, so it runs them at once."""
        loop.add_reader(self.session.wakeup_fd(), self.on_readable, connection, loop)

    def unregister_from_event_loop(self, connection: Any, loop: Any) -> None:
        loop.remove_reader(self.session.wakeup_fd())
        self.session.close_wakeup()

    def on_readable(self, connection: Any, loop: Any) -> None:
        """The pipe woke the loop: run every delivery waiting now (later ones wake it again)."""
        self.session.clear_wakeup()
        while True:
            try:
                delivery = self.session.take(0)
            except TimeoutError:
                return
            delivery.channel.owner.deliver(delivery)

    def close_connection(self, connection: Any) -> None:
        super().close_connection(connection)
        self.broker.close_session(self.session)
        self.session.close_wakeup()

    def driver_version(self) -> str:
        return "1"

    @property
    def default_connection_params(self) -> dict[str, Any]:
        return {"port": None, "hostname": "localhost"}
