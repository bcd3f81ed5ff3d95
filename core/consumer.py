"""One simulated worker: its own connection, one kombu Consumer per queue, ack / reject per policy.

Unlike the tutorial's worker it dispatches on the queue a delivery came from (not the routing key),
and always settles a message it failed on, so prefetch=1 never stalls.

Pausing is what a RabbitMQ consumer does when it stops taking work: it finishes the message it is
working on, cancels its subscriptions (basic.cancel), and hands back with basic.reject(requeue=True)
every copy the broker had already sent it but it had not started (prefetched): each goes back to its
place in the queue, marked redelivered, reported as Requeued "consumer paused". From then on the
broker sends it nothing: new messages stay ready in the queue, where TTL and max-length apply.
Resuming subscribes again (basic.consume). A consumer paused before it starts never subscribes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

from kombu import Connection, Consumer, Message

from core.backends.base import Backend
from core.controls import (
    TICK,
    AttemptCounter,
    Clock,
    ConsumerControl,
    ConsumerCrashed,
    StepGate,
    StopCheck,
    sleep_interruptibly,
)
from core.events import Acked, ConsumerState, Delivered, FlowEvent, Notice, Rejected
from core.reconnect import Reconnect, reason
from core.topology import ConsumerSpec, FailurePolicy, Topology

Emit = Callable[[FlowEvent], None]
CRASH_RESTART_SECONDS = 2.0  # a supervisor restarts a crashed worker after this (simulated) time
BY_HAND = "decided by hand"
"""The Rejected error of a copy a manual consumer's user requeued, rejected or dropped."""
PAUSED = "consumer paused"
"""The Requeued reason for a prefetched copy a pausing consumer hands back unstarted."""


class SimulatedFailure(Exception):
    """The simulated handler failed (a `fail` body flag, or the user's "fail next")."""


COPY_PROPERTIES = (
    "priority",
    "expiration",
    "correlation_id",
    "reply_to",
    "timestamp",
    "type",
    "user_id",
    "app_id",
)
"""The AMQP properties a Delivered event carries (when the copy has them)."""


def copy_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The delivered copy's AMQP properties worth showing: only those it has (usually none)."""
    shown = {name: properties[name] for name in COPY_PROPERTIES if properties.get(name) is not None}
    if shown.get("priority") == 0:  # kombu sends priority 0 with every message: it says nothing
        del shown["priority"]
    return shown


class ConsumerLoop:
    """Runs one ConsumerSpec until told to stop; survives crashes and broker outages by reconnecting."""

    def __init__(
        self,
        spec: ConsumerSpec,
        topology: Topology,
        backend: Backend,
        emit: Emit,
        control: ConsumerControl,
        clock: Clock,
        gate: StepGate,
        on_unacked: Callable[[str, int], None] | None = None,
        attempts: AttemptCounter | None = None,
    ) -> None:
        self.spec, self.topology, self.backend = spec, topology, backend
        self.emit, self.control, self.clock, self.gate = emit, control, clock, gate
        self.attempts = attempts or AttemptCounter()
        self.on_unacked = on_unacked or (lambda _queue, _delta: None)
        self.in_hand: dict[str, tuple[str, Message]] = {}
        self._state = ""
        self._should_stop: StopCheck = lambda: False
        self._cancelling = False
        """True while basic.cancel runs: copies that reach the callback then are handed back."""
        self._given_back = 0
        self._pause_noticed = False

    def set_state(self, state: str, detail: str = "") -> None:
        if state != self._state or detail:
            self._state = state
            self.emit(ConsumerState(consumer=self.spec.name, state=state, detail=detail))

    def run(self, should_stop: StopCheck) -> None:
        """Consume until stopped: the reconnect supervisor retries a lost broker; a simulated crash
        closes the connection (the broker takes back what was in hand) and restarts after a while."""
        self._should_stop = should_stop
        supervisor = Reconnect(self.backend, self._disconnected)
        while not should_stop():
            try:
                supervisor.run(lambda conn: self._consume(conn, should_stop), should_stop)
            except ConsumerCrashed:
                self._crashed(should_stop)
        self.set_state("stopped")

    def _crashed(self, should_stop: StopCheck) -> None:
        # The connection was closed with messages in hand and nothing acked: the broker takes them back.
        lost = len(self.in_hand)
        for queue, _message in self.in_hand.values():
            self.on_unacked(queue, -1)
        self.backend.after_crash(self.emit, [(m, q) for m, (q, _) in self.in_hand.items()])
        self.in_hand.clear()
        self.set_state("crashed", f"connection dropped holding {lost} unacked message(s)")
        sleep_interruptibly(self.clock.real_seconds(CRASH_RESTART_SECONDS), should_stop, None)

    def _disconnected(self, exc: BaseException, delay: float, _connected_once: bool) -> None:
        for queue, _message in self.in_hand.values():
            self.on_unacked(queue, -1)
        self.in_hand.clear()
        self.set_state("disconnected", f"{reason(exc, self.backend.url)}; retrying in {delay:.1f}s")

    def _consume(self, conn: Connection, should_stop: StopCheck) -> None:
        channel = conn.channel()
        consumers = [
            Consumer(  # declares its queue and sets basic.qos; basic.consume waits until not paused
                channel,
                queues=[self.topology.kombu_queue(queue_name, self.spec.arguments)],
                callbacks=[partial(self._on_message, queue_name)],
                on_decode_error=partial(self._on_undecodable, queue_name),
                accept=["json"],
                prefetch_count=self.spec.prefetch or None,
                tag_prefix=f"mqscope.{self.spec.name}.{queue_name}.",
                no_ack=False,
            )
            for queue_name in self.spec.queues
        ]
        subscribed = False
        while not should_stop():
            if self.control.take_crash():
                raise ConsumerCrashed(self.spec.name)
            if self.control.paused.is_set():
                if subscribed or self._state != "paused":
                    self._pause(consumers, subscribed)
                    subscribed = False
                time.sleep(TICK)
                continue
            if not subscribed:
                for consumer in consumers:
                    consumer.consume()  # basic.consume; the broker starts sending at once
                subscribed = True
                self.set_state("idle")
            try:
                conn.drain_events(timeout=0.2)  # stop stays prompt; idle wakes 5 times a second
            except TimeoutError:
                continue

    def _pause(self, consumers: list[Consumer], subscribed: bool) -> None:
        """basic.cancel each subscription; deliveries that arrive meanwhile (copies the broker sent
        before the cancel, prefetched and not started) reach _on_message, which hands them back."""
        self._given_back = 0
        if subscribed:
            self._cancelling = True
            try:
                for consumer in consumers:
                    consumer.cancel()
            finally:
                self._cancelling = False
        if not self._pause_noticed:
            self._pause_noticed = True
            notice = self.backend.pause_notice(self.spec.name, self.spec.queues)
            if notice is not None:
                self.emit(Notice(level="warning", text=notice))
        handed = f"; {self._given_back} prefetched message(s) handed back" if self._given_back else ""
        self.set_state("paused", f"subscription cancelled: new messages stay ready in the queue{handed}")

    def _on_message(self, queue: str, body: Any, message: Message) -> None:
        msg_id = str(message.properties.get("message_id") or message.delivery_tag)
        redelivered = bool(message.delivery_info.get("redelivered", False))
        self.in_hand[msg_id] = (queue, message)
        self.on_unacked(queue, +1)
        self.backend.on_delivery(self.emit, msg_id, queue, message.headers or {})
        self.emit(
            Delivered(
                msg=msg_id,
                queue=queue,
                consumer=self.spec.name,
                redelivered=redelivered,
                headers=message.headers or {},
                properties=copy_properties(message.properties),
            )
        )
        if self._cancelling or (self.control.paused.is_set() and self.backend.faithful):
            # Prefetched, not started, and the consumer is pausing: back to its place in the queue.
            # (memory:// requeues by re-routing, duplicating into sibling queues: there a copy that
            # reaches the callback just as the pause lands is finished instead.)
            self._given_back += 1
            self.backend.give_back(self.emit, self.topology, message, msg_id, queue, PAUSED)
            self.in_hand.pop(msg_id, None)
            self.on_unacked(queue, -1)
            return
        if not self.gate.wait(self._should_stop):
            return
        if self.control.manual.is_set():
            decided = self._by_hand(queue, msg_id, message)
            if decided is not None:
                if decided:
                    self.in_hand.pop(msg_id, None)
                    self.on_unacked(queue, -1)
                return  # not decided: stopping; the broker takes the copy back with the connection
        # No per-message working/idle state events: `delivered` starts the work and `acked` /
        # `rejected` ends it, and at thousands of messages a second those two extra events were a
        # third of everything the UI had to digest.
        try:
            self._handle(body, self.attempts.next(msg_id))
        except SimulatedFailure as exc:
            self._settle_failure(queue, msg_id, message, str(exc))
        else:
            message.ack()
            self.emit(Acked(msg=msg_id, queue=queue, consumer=self.spec.name))
        self.in_hand.pop(msg_id, None)
        self.on_unacked(queue, -1)

    def _on_undecodable(self, queue: str, message: Message, exc: Exception) -> None:
        """Only JSON is accepted: anything else is rejected unread (never deserialized)."""
        msg_id = str(message.properties.get("message_id") or message.delivery_tag)
        self.emit(Delivered(msg=msg_id, queue=queue, consumer=self.spec.name))
        content_type = message.content_type or "unknown"
        error = f"refused {content_type} body: only JSON is accepted ({type(exc).__name__})"
        self.emit(Rejected(msg=msg_id, queue=queue, consumer=self.spec.name, action="drop", error=error))
        message.reject(requeue=False)

    def _handle(self, body: Any, attempt: int) -> None:
        """The simulated work: sleep for work_seconds (scaled by speed), then maybe fail."""
        sleep_interruptibly(self.clock.real_seconds(self.spec.work_seconds), self._should_stop, self.control)
        if self.control.take_failure():
            raise SimulatedFailure("failed on request (fail next)")
        fail = body.get("fail") if isinstance(body, dict) else None
        if fail is True and attempt == 1:
            raise SimulatedFailure("body asked to fail on its first delivery")
        if isinstance(fail, int) and not isinstance(fail, bool) and attempt <= fail:
            raise SimulatedFailure(f"body asked to fail {fail} time(s); this was attempt {attempt}")

    def _by_hand(self, queue: str, msg_id: str, message: Message) -> bool | None:
        """A manual consumer: hold the copy until the user decides, then settle it that way.

        True: settled as decided. False: the loop is stopping (left unsettled; the broker takes it
        back). None: manual was switched off meanwhile: the caller handles it as any other message.
        A crash asked for meanwhile crashes the consumer, as one during work does."""
        self.set_state("waiting", f"{msg_id} from {queue}: waiting for you (ack, requeue, reject or drop)")

        def give_up() -> bool:
            if self.control.take_crash():
                raise ConsumerCrashed(self.spec.name)
            return self._should_stop() or not self.control.manual.is_set()

        action = self.control.await_decision(msg_id, give_up)
        if action is None:
            if self._should_stop():
                return False
            self.set_state("working", f"{msg_id} from {queue}")
            return None
        if action == "ack":
            message.ack()
            self.emit(Acked(msg=msg_id, queue=queue, consumer=self.spec.name))
        else:
            self._settle_failure(queue, msg_id, message, BY_HAND, cast(FailurePolicy, action))
        self.set_state("idle")
        return True

    def _settle_failure(
        self, queue: str, msg_id: str, message: Message, error: str, policy: FailurePolicy | None = None
    ) -> None:
        """Never leave a failed message unacked: requeue, reject (dead-letter) or ack-and-drop."""
        policy = policy or self.spec.on_failure
        self.emit(Rejected(msg=msg_id, queue=queue, consumer=self.spec.name, action=policy, error=error))
        if policy == "requeue":
            message.requeue()
            self.backend.after_reject(self.emit, self.topology, msg_id, queue, requeue=True)
        elif policy == "dead_letter":
            message.reject(requeue=False)
            key = str((message.delivery_info or {}).get("routing_key", ""))
            self.backend.after_reject(self.emit, self.topology, msg_id, queue, requeue=False, routing_key=key)
        else:
            message.ack()
