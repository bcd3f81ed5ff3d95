"""The producer loop: declare, publish the script and the user's messages, poll queue depths.

It runs in its own thread with its own connection. The first connection gets a few quick tries (a
wrong URL fails in one line); once connected, a lost broker is retried with backoff (kombu's
ensure_connection) for ever, the topology re-declared, and the message that was being published when
the broker went away is sent again until the broker has it (confirmed, where confirms are on).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kombu import Connection, Producer

from core.backends import BrokerUrlError
from core.backends.amqp import scrub
from core.controls import TICK, StopCheck, sleep_interruptibly
from core.events import BrokerStatus, Dropped, Notice, Published, QueueDepth, Returned, Routed
from core.tap import TapLoop
from core.topology import PublishStep

if TYPE_CHECKING:
    from core.engine import FlowEngine, PublishRequest

DEPTH_POLL_SECONDS = 0.25
CONNECT_RETRIES = 3  # the first connection: a wrong URL or a broker that is not there fails fast
RETRY_START, RETRY_STEP, RETRY_MAX = 0.2, 0.4, 2.0  # backoff (seconds) while reconnecting


class _Stopped(Exception):
    """Raised inside kombu's retry loop to end it when the producer is told to stop."""


class ProducerLoop:
    """One engine's producer thread; its state (script, the message in flight) survives reconnects."""

    def __init__(self, engine: FlowEngine) -> None:
        self.engine = engine
        self._script: list[PublishStep] = []
        self._next_due: float | None = None
        self._pending: PublishRequest | None = None
        """The request being published; sent again after a reconnect until the broker has it."""
        self._returned: dict[str, str] = {}
        self._depth_channel: Any = None
        self._last_depth: dict[str, tuple[int, int]] = {}

    def run(self, should_stop: StopCheck, *, play_script: bool = True) -> None:
        """Declare, attach broker reporting, then publish script steps and requests until stopped.

        The first connection gets a few quick tries (a wrong URL fails in one line); once connected,
        a lost broker is retried with backoff for ever, the topology re-declared, and the message
        that was being published when the broker went away is sent again until it is confirmed.
        """
        self._status("connecting")
        if self.engine.tap is not None:  # watch an existing exchange instead: declare and publish nothing
            TapLoop(self.engine.tap, self.engine.topology, self.engine.backend, self.engine.emit).run(
                should_stop
            )
            return
        self.engine.backend.attach(self.engine.emit, self.engine.topology)
        self._script = list(self.engine.scenario.publishes) if play_script else []
        self._next_due = self._due_after(0)
        connected_once, backoff = False, RETRY_START
        try:
            while not should_stop():
                try:
                    with self.engine.backend.connection() as conn:
                        self._connect(conn, should_stop, forever=connected_once)
                        self.engine.declare(conn)
                        connected_once, backoff = True, RETRY_START
                        self._status("connected")
                        self._produce(conn, self._new_producer(conn), should_stop)
                    return
                except _Stopped:
                    return
                except Exception as exc:
                    if not self.engine.backend.consumer_connection_lost(exc):
                        raise
                    # e.g. a node still booting refuses the vhost: kombu does not retry that itself
                    self._status("disconnected", f"{self._reason(exc)}; reconnecting in {backoff:.1f}s")
                    sleep_interruptibly(backoff, should_stop, None)
                    backoff = min(backoff * 2, RETRY_MAX)
        finally:
            self.engine.backend.detach()

    def _status(self, state: str, detail: str = "") -> None:
        self.engine.emit(
            BrokerStatus(
                broker=self.engine.backend.display_url(),
                state=state,
                faithful=self.engine.backend.faithful,
                detail=detail or self.engine.backend.name,
            )
        )

    def _reason(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        return scrub(f"{type(exc).__name__}: {text}", self.engine.backend.url)

    def _connect(self, conn: Connection, should_stop: StopCheck, *, forever: bool) -> None:
        """kombu's ensure_connection with backoff; status says each retry; a stop request ends it."""

        def errback(exc: BaseException, interval: float) -> None:
            state = "reconnecting" if forever else "connecting"
            self._status(state, f"{self._reason(exc)}; retrying in {interval:.1f}s")

        def callback() -> None:
            if should_stop():
                raise _Stopped

        try:
            conn.ensure_connection(
                errback=errback,
                callback=callback,
                max_retries=None if forever else CONNECT_RETRIES,
                interval_start=RETRY_START,
                interval_step=RETRY_STEP,
                interval_max=RETRY_MAX,
            )
        except _Stopped:
            raise
        except Exception as exc:
            if forever and self.engine.backend.consumer_connection_lost(exc):
                raise
            # Never connected (wrong host, port, password, vhost): one line, password masked.
            raise BrokerUrlError(
                f"cannot connect to {self.engine.backend.display_url()}: {self._reason(exc)}"
            ) from None

    def _new_producer(self, conn: Connection) -> Producer:
        """Publish on the default channel; basic.return lands in `_on_return` where it is detected."""
        self._returned.clear()
        self._depth_channel = None
        on_return = self._on_return if self.engine.backend.detects_returns else None
        return Producer(conn.default_channel, serializer="json", on_return=on_return)

    def _on_return(self, exc: BaseException, exchange: str, routing_key: str, message: Any) -> None:
        """basic.return for a mandatory publish (arrives before its confirm, on the producer thread)."""
        msg = str(getattr(message, "properties", {}).get("message_id") or "")
        if msg:
            self._returned[msg] = " ".join(str(getattr(exc, "reply_text", "") or exc).split())

    def _due_after(self, index: int) -> float | None:
        if index >= len(self._script):
            return None
        return time.monotonic() + self.engine.clock.real_seconds(self._script[index].after)

    def _produce(self, conn: Connection, producer: Producer, should_stop: StopCheck) -> None:
        if self._pending is not None:  # interrupted by a lost broker: send it again first
            self._send(conn, producer, self._pending, should_stop)
        next_depth = 0.0
        while not should_stop():
            now = time.monotonic()
            if self._next_due is not None and now >= self._next_due:
                step = self.engine.request_from_step(self._script.pop(0))
                self._next_due = self._due_after(0)
                self._send(conn, producer, step, should_stop)
            if now >= next_depth:
                self._poll_depths(conn)
                next_depth = now + DEPTH_POLL_SECONDS
            due = self._next_due
            wait = TICK if due is None else max(0.0, min(TICK, due - time.monotonic()))
            request = self.engine.take_request(wait)
            # Send it, then what is already waiting in one go: bursts publish back to back.
            while request is not None and not should_stop():
                self._send(conn, producer, request, should_stop)
                request = self.engine.take_request(None)
                if time.monotonic() >= next_depth:
                    self._poll_depths(conn)
                    next_depth = time.monotonic() + DEPTH_POLL_SECONDS

    def _send(
        self, conn: Connection, producer: Producer, request: PublishRequest, should_stop: StopCheck
    ) -> None:
        if not self.engine.gate.wait(should_stop):
            return
        # Say where it goes before sending: a fast consumer may ack a copy before publish() returns
        # (RabbitMQ and memory:// alike; memory://'s lookup answers the same before as after).
        predict_first = not self.engine.backend.reports_routing
        if self._pending is not request:  # a resend after a lost broker was announced already
            self.engine.emit(
                Published(
                    msg=request.msg,
                    exchange=request.exchange,
                    routing_key=request.routing_key,
                    body=request.body,
                    headers=dict(request.headers),
                )
            )
            if predict_first:  # RabbitMQ may deliver a copy before it confirms: say where it goes first
                self._emit_routed(request, producer.channel)
        properties: dict[str, Any] = {"message_id": request.msg}
        if request.expiration is not None:
            properties["expiration"] = request.expiration  # seconds: kombu writes the ms string
        self._pending = request  # until the broker has it (confirmed, where confirms are on)
        try:
            producer.publish(
                request.body,
                exchange=request.exchange,
                routing_key=request.routing_key,
                headers=dict(request.headers),
                mandatory=request.mandatory or self.engine.backend.detects_returns,
                **properties,
            )
        except self.engine.backend.transport_defects as exc:
            self._pending = None
            text = f"{self.engine.backend.name} failed to publish {request.routing_key!r}: {exc}"
            self.engine.emit(Notice(msg=request.msg, level="error", text=text))
            return
        self._pending = None
        if self.engine.backend.reports_routing:
            return
        if predict_first:
            if request.msg in self._returned:
                self._report_returned(request, self._returned.pop(request.msg))
            return
        self._emit_routed(request, producer.channel)

    def _emit_routed(self, request: PublishRequest, channel: Any) -> None:
        """Routed from the backend's answer, with a notice when it differs from RabbitMQ's routing."""
        table = self.engine.topology.binding_table
        expected = table.route(request.exchange, request.routing_key, request.headers)
        queues = self.engine.backend.routed(channel, request.exchange, request.routing_key, request.headers)
        if queues is None:
            return
        differs = queues != expected.queues
        self.engine.emit(
            Routed(
                msg=request.msg,
                exchange=request.exchange,
                routing_key=request.routing_key,
                queues=queues,
                source=self.engine.backend.route_source,
                via_alternate=expected.via_alternate,
                rabbitmq_queues=expected.queues if differs else None,
            )
        )
        if differs:
            self.engine.emit(
                Notice(
                    msg=request.msg,
                    level="warning",
                    text=(
                        f"{self.engine.backend.name} routed {request.routing_key!r} to "
                        f"{_names(queues)}; RabbitMQ routes it to {_names(expected.queues)}"
                    ),
                )
            )

    def _report_returned(self, request: PublishRequest, reason: str) -> None:
        """The broker returned a mandatory publish: it reached no queue, whatever was predicted."""
        self.engine.emit(
            Returned(
                msg=request.msg,
                exchange=request.exchange,
                routing_key=request.routing_key,
                reason=reason or "NO_ROUTE",
            )
        )
        table = self.engine.topology.binding_table
        predicted = table.route(request.exchange, request.routing_key, request.headers).queues
        if not predicted:
            return
        self.engine.emit(
            Notice(
                msg=request.msg,
                level="warning",
                text=(
                    f"{self.engine.backend.name} returned {request.routing_key!r} as unroutable; the "
                    f"scenario's bindings route it to {_names(predicted)} (the broker's differ)"
                ),
            )
        )
        for queue_name in predicted:  # the predicted copies never existed: close them
            self.engine.emit(
                Dropped(msg=request.msg, queue=queue_name, reason="returned: no such binding on the broker")
            )

    def _poll_depths(self, conn: Connection) -> None:
        """Passive declares on a channel of their own: a missing queue closes only that channel."""
        if self._depth_channel is None:
            self._depth_channel = conn.channel()
        channel = self._depth_channel
        for spec in self.engine.topology.queues:
            try:
                ready, unacked = self.engine.backend.queue_depth(channel, spec.name)
            except conn.channel_errors:
                self._depth_channel = None  # the broker closed it (queue deleted under us)
                return
            depth = (ready, self.engine.unacked_for(spec.name) if unacked is None else unacked)
            if self._last_depth.get(spec.name) != depth:
                self._last_depth[spec.name] = depth
                self.engine.emit(QueueDepth(queue=spec.name, ready=depth[0], unacked=depth[1]))


def _names(queues: tuple[str, ...]) -> str:
    return ", ".join(queues) if queues else "no queue"
