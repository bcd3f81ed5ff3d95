"""mqscope's in-process, RabbitMQ-faithful broker and its kombu transport (`mqscope://NAME`).

Importing this package registers the URL scheme with kombu; the transport module itself loads only
when kombu first opens an `mqscope://` connection. One Broker per NAME per process (default
`localhost`); `reset_brokers()` empties them all (tests, fresh runs with no connection open).

Behaves as RabbitMQ 3.x: direct/fanout/topic/headers routing (core.routing), the default exchange,
exchange-to-exchange bindings (a message reaches each queue once however many paths lead there; loops
end), alternate exchanges (chained, loops end), mandatory returns (kombu `on_return`); push delivery
round-robin among a queue's consumers within basic.qos (per consumer, or channel-wide with
global=true), consumer priorities (`x-priority`: higher first while they have prefetch to spare) and
`x-single-active-consumer` (the earliest subscriber gets everything; the next takes over on cancel or
a closed channel); ack/nack/reject with requeue to the copy's old place marked redelivered; unacked
copies returned when a channel closes; basic.cancel stops deliveries but leaves copies already sent
unacked (the client's callback gets the unread ones before basic_cancel returns, as pyamqp's do
before basic.cancel-ok); queue TTL and per-message expiration (the lower wins; at the queue head only,
a priority queue's too: a stale low-priority copy waits behind fresh higher ones), x-max-length and
x-max-length-bytes (body bytes of ready copies) with x-overflow drop-head, reject-publish and
reject-publish-dlx (the newest refused: a MessageNacked under kombu's confirm_publish, as pyamqp
raises for basic.nack; -dlx dead-letters it as `maxlen`), x-expires (an unused queue is deleted, its
messages dropped, not dead-lettered), x-max-priority (priorities capped at it, higher delivered
first; drop-head drops the highest), quorum queues (x-queue-type: x-delivery-limit with
x-delivery-count, dead-lettered as `delivery_limit`; reject-publish-dlx acting as drop-head and
reject-publish refusing only once over the limit, as RabbitMQ 3.10 does), dead-lettering with
x-death / x-first-death-* and RabbitMQ's cycle rule (a copy coming back to a queue it died in is
dropped unless a rejection happened on the way); auto-delete and exclusive queues; channel errors
as amqp's exceptions (404, 405, 406), declarations refused in RabbitMQ 3.10's words
(core.queue_arguments); a queue argument not listed there is refused (540), never ignored.
Not modelled: stream queues, quorum queues' replication and at-least-once dead-lettering, publisher
confirms other than reject-publish nacks, basic.recover(requeue=False), consumer-cancel
notifications on queue deletion.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES

from core.broker.model import Broker, BrokerError
from core.broker.registry import SCHEME, get_broker, name_from_url, reset_brokers

TRANSPORT_ALIASES.setdefault(SCHEME, "core.broker.transport:Transport")

__all__ = ["SCHEME", "Broker", "BrokerError", "get_broker", "name_from_url", "reset_brokers"]
