"""kombu's stock memory:// transport, used as-is so its differences from RabbitMQ can be shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kombu.transport import memory

from core.backends.base import Backend, Emit
from core.events import Dropped, Notice
from core.script_watch import APP_OWNED
from core.topology import Topology
from core.topology_changes import TopologyChange


class MemoryBackend(Backend):
    """kombu memory://: process-global, polls, and routes topics with its own regex rules."""

    name = "kombu memory://"
    faithful = False
    reports_routing = False
    route_source = "transport"
    transport_defects = (re.error,)
    """kombu's memory:// compiles topic bindings to regexes: a binding like '*a' raises on publish."""
    transport_options = {"polling_interval": 0.005, APP_OWNED: True}

    def discard_state(self) -> None:
        reset_memory_transport()

    def unsupported(self, topology: Topology) -> str | None:
        headers = [e.name for e in topology.exchanges if e.type == "headers"]
        if headers:
            return (
                f"kombu memory:// has no headers exchange (exchange {headers[0]!r}); "
                "use the default in-process broker or RabbitMQ"
            )
        linked = [e.name for e in topology.exchanges if e.bindings]
        if linked:
            return (
                f"kombu memory:// has no exchange-to-exchange bindings (exchange {linked[0]!r}); "
                "use the default in-process broker or RabbitMQ"
            )
        return None

    def change_unsupported(self, topology: Topology, change: TopologyChange) -> str | None:
        bound = [q.name for q in topology.queues for b in q.bindings if b.exchange == change.name]
        if change.op == "delete" and change.kind == "exchange" and bound:
            return (
                f"kombu memory:// deletes the queues bound to an exchange along with it (queue "
                f"{bound[0]!r}); unbind them first, or use the default in-process broker or RabbitMQ"
            )
        return super().change_unsupported(topology, change)

    def routed(
        self, channel: Any, exchange: str, routing_key: str, headers: Mapping[str, Any] | None
    ) -> tuple[str, ...] | None:
        """Ask the transport's own exchange lookup where the message went (what really happened)."""
        try:
            exchange_type = channel.typeof(exchange)
            table = channel.get_table(exchange)
            found = exchange_type.lookup(table, exchange, routing_key, None)
        except self.transport_defects:
            return ()  # kombu raises for this key (e.g. a binding '*a'): it reaches no queue
        return tuple(sorted({q for q in found if q}))

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
        """memory:// re-routes requeues and ignores x-dead-letter-exchange: say so as it happens."""
        spec = topology.queue(queue)
        if requeue:
            super().after_reject(emit, topology, msg, queue, requeue=True, reason=reason)
            emit(
                Notice(
                    msg=msg,
                    level="warning",
                    text=(
                        "memory:// requeues by publishing again through the exchange: the message goes "
                        "to the tail of every matching queue, without the redelivered flag; RabbitMQ "
                        f"puts it back at the head of {queue!r} only"
                    ),
                )
            )
            return
        if spec is None or spec.dead_letter_exchange is None:
            super().after_reject(emit, topology, msg, queue, requeue=False)
            return
        emit(
            Dropped(
                msg=msg,
                queue=queue,
                reason=(
                    f"memory:// has no dead-lettering; RabbitMQ would send it to "
                    f"{spec.dead_letter_exchange!r}"
                ),
            )
        )

    def pause_notice(self, consumer: str, queues: tuple[str, ...]) -> str | None:
        """Pausing works as on RabbitMQ here (basic.cancel; memory:// hands a consumer one message per
        drain, so none is ever prefetched), but what then waits in the queue never expires."""
        return (
            f"memory:// ignores TTL and max-length: messages waiting in {', '.join(queues)} while "
            f"{consumer} is paused never expire or overflow; RabbitMQ would expire them (dead-lettered "
            "where the queue has a dead-letter exchange) and drop the oldest beyond max-length"
        )

    def after_crash(self, emit: Emit, in_hand: list[tuple[str, str]]) -> None:
        """memory:// never restores a closed channel's unacked messages: they are gone."""
        for msg, queue in in_hand:
            emit(
                Dropped(
                    msg=msg,
                    queue=queue,
                    reason=(
                        "memory:// loses unacked messages when the consumer's channel closes; "
                        "RabbitMQ would requeue it"
                    ),
                )
            )


def reset_memory_transport() -> None:
    """memory:// keeps queues and bindings in class attributes: clear them between runs and tests."""
    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()
