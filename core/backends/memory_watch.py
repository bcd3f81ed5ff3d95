"""kombu's memory:// channel, watched: what a program run by --run does on it, as flow events.

The channel is kombu's own (memory.Channel, same process-global state), so the program sees exactly
what memory:// does; each step is reported as it happens, with what memory:// really did (its own
routing lookup) and a warning wherever RabbitMQ would differ (MemoryBackend's rules). While a run
watches, kombu's memory transport makes its channels with this class; mqscope's own memory://
connections (transport option APP_OWNED) are not reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import memory

from core.backends.memory import MemoryBackend
from core.events import Notice, Routed
from core.script_watch import ChannelWatch, body_value, current_watch
from core.topology import Topology

MSG_KEY = "mqscope_msg"
"""Where a watched publish carries its message id: in delivery_info, which memory:// keeps with the
message (a requeue re-publishes it with it), so the program's properties stay as it set them."""
_ids = itertools.count(1)


class WatchedChannel(memory.Channel):  # type: ignore[misc]
    """memory.Channel that reports to the running watch."""

    topology: Callable[[], Topology] = staticmethod(lambda: Topology((), ()))
    """The live topology (set by `watching_memory`): RabbitMQ's routing is predicted from it."""

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        watch = current_watch(connection.client.transport_options)
        self.watch = None if watch is None else ChannelWatch(watch)
        self.backend = MemoryBackend("memory://")
        if watch is not None:
            watch.on_connect("memory", None)

    def exchange_declare(
        self,
        exchange: Any = None,
        type: str = "direct",
        durable: bool = False,
        auto_delete: bool = False,
        arguments: Any = None,
        nowait: bool = False,
        passive: bool = False,
    ) -> Any:
        result = super().exchange_declare(exchange, type, durable, auto_delete, arguments, nowait, passive)
        if self.watch is not None and not passive:
            self.watch.exchange_declared(exchange or "", type or "direct", durable, arguments)
        return result

    def queue_declare(self, queue: Any = None, passive: bool = False, **kwargs: Any) -> Any:
        result = super().queue_declare(queue, passive, **kwargs)
        if self.watch is not None and not passive:
            self.watch.queue_declared(
                result.queue, kwargs.get("arguments"), bool(kwargs.get("durable", True))
            )
        return result

    def queue_bind(
        self, queue: str, exchange: Any = None, routing_key: str = "", arguments: Any = None, **kwargs: Any
    ) -> Any:
        result = super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)
        if self.watch is not None:
            self.watch.bound(queue, exchange or "", routing_key or "", arguments)
        return result

    def basic_publish(self, message: Any, exchange: str, routing_key: str, **kwargs: Any) -> Any:
        watch = self.watch
        if watch is None:
            return super().basic_publish(message, exchange, routing_key, **kwargs)
        properties = message["properties"]
        info = properties.setdefault("delivery_info", {})
        msg = str(properties.get("message_id") or f"r{next(_ids)}")
        info[MSG_KEY] = msg
        body = body_value(message.get("body"), message.get("content-type"))
        watch.published(msg, exchange or "", routing_key or "", body, message.get("headers") or {})
        self._report_route(msg, exchange or "", routing_key or "", message.get("headers"))
        return super().basic_publish(message, exchange, routing_key, **kwargs)

    def _report_route(self, msg: str, exchange: str, key: str, headers: Any) -> None:
        """What memory:// does with it (its own lookup), and a warning where RabbitMQ differs."""
        assert self.watch is not None
        topology = self.topology()
        queues = self.backend.routed(self, exchange, key, headers) or ()
        known = exchange == "" or topology.exchange(exchange) is not None
        expected = topology.binding_table.route(exchange, key, headers) if known else None
        differs = expected is not None and expected.queues != queues
        emit = self.watch.watch.emit
        emit(
            Routed(
                msg=msg,
                exchange=exchange,
                routing_key=key,
                queues=queues,
                source=self.backend.route_source,
                rabbitmq_queues=expected.queues if differs and expected is not None else None,
            )
        )
        if differs and expected is not None:
            names = ", ".join(expected.queues) or "no queue"
            got = ", ".join(queues) or "no queue"
            text = f"{self.backend.name} routed {key!r} to {got}; RabbitMQ routes it to {names}"
            emit(Notice(msg=msg, level="warning", text=text))

    def basic_consume(self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any) -> Any:
        watch = self.watch
        if watch is None:
            return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)
        watch.consuming(consumer_tag, queue, int(self.qos.prefetch_count or 0))

        def delivered(message: Any) -> Any:
            self._delivered(watch, message, queue, no_ack)
            return callback(message)

        return super().basic_consume(queue, no_ack, delivered, consumer_tag, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        message = super().basic_get(queue, no_ack, **kwargs)
        if message is not None and self.watch is not None:
            self._delivered(self.watch, message, queue, no_ack)
        return message

    @staticmethod
    def _delivered(watch: ChannelWatch, message: Any, queue: str, no_ack: bool) -> None:
        info = message.delivery_info or {}
        msg = str(info.get(MSG_KEY) or message.properties.get("message_id") or message.delivery_tag)
        watch.delivered(message.delivery_tag, msg, queue, bool(info.get("redelivered")), no_ack)

    def basic_cancel(self, consumer_tag: str) -> Any:
        result = super().basic_cancel(consumer_tag)
        if self.watch is not None:
            self.watch.cancelled(consumer_tag)
        return result

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> Any:
        if self.watch is not None:
            self.watch.acked(delivery_tag, multiple)
        return super().basic_ack(delivery_tag, multiple)

    def basic_reject(self, delivery_tag: int, requeue: bool = False) -> Any:
        watch = self.watch
        if watch is not None:
            topology = self.topology()
            # memory:// has no dead-lettering: a reject without requeue drops the copy
            for msg, queue in watch.rejected(delivery_tag, False, requeue, "requeue" if requeue else "drop"):
                self.backend.after_reject(watch.watch.emit, topology, msg, queue, requeue=requeue)
        return super().basic_reject(delivery_tag, requeue)

    def close(self) -> None:
        if self.watch is not None and not self.closed:
            held = self.watch.closed()
            self.backend.after_crash(self.watch.watch.emit, held)  # what memory:// does with them
        super().close()


@contextmanager
def watching_memory(topology: Callable[[], Topology]) -> Iterator[None]:
    """While inside, kombu's memory:// transport makes WatchedChannels (restored after)."""
    previous = memory.Transport.Channel
    WatchedChannel.topology = staticmethod(topology)
    memory.Transport.Channel = WatchedChannel
    try:
        yield
    finally:
        memory.Transport.Channel = previous
