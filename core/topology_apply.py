"""Carry a topology change out on a broker, through kombu, on the caller's channel.

The same AMQP methods serve mqscope://, memory:// and RabbitMQ (exchange.declare/delete,
queue.declare/delete, queue.bind/unbind, exchange.bind/unbind). Consumers are not broker objects
here: the engine starts and stops their loops; this module only declares what they consume.
"""

from __future__ import annotations

from typing import Any

from kombu import Exchange, Queue

from core.routing import Binding
from core.topology import ConsumerSpec, ExchangeSpec, QueueSpec
from core.topology_changes import TopologyChange


def perform(channel: Any, change: TopologyChange) -> None:
    """Make `change` on the broker behind `channel` (a kombu channel owned by the calling thread).

    Broker refusals surface as kombu's channel errors; the caller reports them as that change's fate.
    """
    entity = change.entity
    declaring = change.op == "declare"
    match entity:
        case ExchangeSpec():
            if declaring:
                entity.to_kombu()(channel).declare()
            else:
                channel.exchange_delete(exchange=entity.name)
        case QueueSpec():
            if declaring:
                queue = Queue(entity.name, queue_arguments=entity.queue_arguments(), durable=entity.durable)
                queue(channel).declare()
            else:
                channel.queue_delete(queue=entity.name)
        case Binding():
            arguments = dict(entity.arguments) or None
            if entity.destination_kind == "exchange":
                method = channel.exchange_bind if declaring else channel.exchange_unbind
                method(
                    destination=entity.destination,
                    source=entity.source,
                    routing_key=entity.routing_key,
                    arguments=arguments,
                )
                return
            exchange = Exchange(entity.source)
            if declaring:
                channel.queue_bind(
                    queue=entity.destination,
                    exchange=exchange.name,
                    routing_key=entity.routing_key,
                    arguments=arguments,
                )
            else:
                channel.queue_unbind(
                    queue=entity.destination,
                    exchange=exchange.name,
                    routing_key=entity.routing_key,
                    arguments=arguments,
                )
        case ConsumerSpec():
            pass  # a consumer is a loop of the engine's, started or stopped by it
