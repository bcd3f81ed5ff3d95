"""FlowEngine: declares a scenario's topology, runs the producer and consumer loops, emits events.

Each loop owns its own kombu Connection and runs in whatever thread calls it (a Textual thread worker
in the app, a plain thread headless). Loops poll a `should_stop` callable between short drains, so
they stop within ~0.1 s. Other threads talk to the loops only through thread-safe queues and flags.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection, Producer

from core.backends import Backend, BrokerUrlError, backend_for
from core.backends.amqp import scrub
from core.consumer import ConsumerLoop
from core.controls import TICK, AttemptCounter, Clock, ConsumerControl, StepGate, StopCheck
from core.events import (
    BrokerStatus,
    Dropped,
    EventStream,
    FlowEvent,
    Notice,
    Published,
    QueueDepth,
    Returned,
    Routed,
)
from core.routing import route, routing_key_problem
from core.scenario import Scenario
from core.tap import TapLoop, TapSpec
from core.topology import PublishStep, TopologyError

DEPTH_POLL_SECONDS = 0.25
CONNECT_RETRIES = 3  # the first connection: a wrong URL or a broker that is not there fails fast
RETRY_START, RETRY_STEP, RETRY_MAX = 0.2, 0.4, 2.0  # backoff (seconds) while reconnecting


class _Stopped(Exception):
    """Raised inside kombu's retry loop to end it when the producer is told to stop."""


class PublishError(ValueError):
    """A publish request that cannot be sent (bad key, unknown exchange, non-JSON body)."""


@dataclass(frozen=True)
class PublishRequest:
    """A message for the producer thread to send, with its id fixed up front."""

    msg: str
    exchange: str
    routing_key: str
    body: Any = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    mandatory: bool = False
    expiration: float | None = None


def new_message_id() -> str:
    """Short ids like the tutorial's (8 hex characters), unique enough for a session."""
    return uuid.uuid4().hex[:8]


class FlowEngine:
    """The model of one running scenario on one broker; thread-safe entry points for the UI."""

    def __init__(self, scenario: Scenario, broker_url: str, *, speed: float = 1.0) -> None:
        self.scenario = scenario
        self.topology = scenario.topology
        self.backend: Backend = backend_for(broker_url)
        if (problem := self.backend.unsupported(self.topology)) is not None:
            raise TopologyError(problem)
        self.events = EventStream()
        self.clock = Clock(speed)
        self.gate = StepGate()
        self.controls = {c.name: ConsumerControl(c.name) for c in self.topology.consumers}
        self.declared = threading.Event()
        self.attempts = AttemptCounter()
        self._requests: queue.Queue[PublishRequest] = queue.Queue()
        self._unacked: dict[str, int] = {q.name: 0 for q in self.topology.queues}
        self._last_depth: dict[str, tuple[int, int]] = {}
        # Producer-thread state that survives reconnects:
        self._script: list[PublishStep] = []
        self._next_due: float | None = None
        self._pending: PublishRequest | None = None
        """The request being published; sent again after a reconnect until the broker has it."""
        self._returned: dict[str, str] = {}
        self._depth_channel: Any = None
        self.tap: TapSpec | None = None
        """Set (before starting the loops) to watch an existing exchange instead of running the scenario."""
        self._lock = threading.Lock()

    # -- events -------------------------------------------------------------------------------
    def emit(self, event: FlowEvent) -> None:
        """Put an event on the stream (any thread)."""
        self.events.put(event)

    # -- publishing (any thread) --------------------------------------------------------------
    def make_request(
        self,
        exchange: str,
        routing_key: str,
        body: Any = None,
        headers: Mapping[str, Any] | None = None,
        *,
        mandatory: bool = False,
        expiration: float | None = None,
    ) -> PublishRequest:
        """Validate a publish and give it an id; raises PublishError with a one-line reason."""
        if (problem := routing_key_problem(routing_key)) is not None:
            raise PublishError(problem)
        if exchange != "" and self.topology.exchange(exchange) is None:
            raise PublishError(f"unknown exchange {exchange!r}")
        return PublishRequest(
            new_message_id(),
            exchange,
            routing_key,
            {} if body is None else body,
            dict(headers or {}),
            mandatory,
            expiration,
        )

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: Any = None,
        headers: Mapping[str, Any] | None = None,
        *,
        mandatory: bool = False,
        expiration: float | None = None,
    ) -> str:
        """Queue a message for the producer thread; returns its id at once."""
        request = self.make_request(
            exchange, routing_key, body, headers, mandatory=mandatory, expiration=expiration
        )
        self.enqueue(request)
        return request.msg

    def enqueue(self, request: PublishRequest) -> None:
        """Hand an already validated request to the producer thread."""
        self._requests.put(request)

    def request_from_step(self, step: PublishStep) -> PublishRequest:
        return self.make_request(
            step.exchange,
            step.routing_key,
            step.body,
            step.headers,
            mandatory=step.mandatory,
            expiration=step.expiration,
        )

    # -- declaring ----------------------------------------------------------------------------
    def declare(self, conn: Connection) -> None:
        """Declare exchanges, queues and bindings (idempotent) on `conn`."""
        channel = conn.default_channel
        for exchange in self.topology.kombu_exchanges().values():
            exchange(channel).declare()
        for spec in self.topology.queues:
            for bound in self.topology.kombu_queue_bindings(spec):
                bound(channel).declare()
        self.declared.set()

    # -- producer loop (its own thread) -------------------------------------------------------
    def run_producer(self, should_stop: StopCheck, *, play_script: bool = True) -> None:
        """Declare, attach broker reporting, then publish script steps and requests until stopped.

        The first connection gets a few quick tries (a wrong URL fails in one line); once connected,
        a lost broker is retried with backoff for ever, the topology re-declared, and the message
        that was being published when the broker went away is sent again until it is confirmed.
        """
        self._status("connecting")
        if self.tap is not None:  # watch an existing exchange instead: declare and publish nothing
            TapLoop(self.tap, self.topology, self.backend, self.emit).run(should_stop)
            return
        self.backend.attach(self.emit, self.topology)
        self._script = list(self.scenario.publishes) if play_script else []
        self._next_due = self._due_after(0)
        connected_once = False
        try:
            while not should_stop():
                try:
                    with self.backend.connection() as conn:
                        self._connect(conn, should_stop, forever=connected_once)
                        self.declare(conn)
                        connected_once = True
                        self._status("connected")
                        self._produce(conn, self._new_producer(conn), should_stop)
                    return
                except _Stopped:
                    return
                except Exception as exc:
                    if not self.backend.consumer_connection_lost(exc):
                        raise
                    self._status("disconnected", f"{self._reason(exc)}; reconnecting")
        finally:
            self.backend.detach()

    def _status(self, state: str, detail: str = "") -> None:
        self.emit(
            BrokerStatus(
                broker=self.backend.display_url(),
                state=state,
                faithful=self.backend.faithful,
                detail=detail or self.backend.name,
            )
        )

    def _reason(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        return scrub(f"{type(exc).__name__}: {text}", self.backend.url)

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
            if forever and self.backend.consumer_connection_lost(exc):
                raise
            # Never connected (wrong host, port, password, vhost): one line, password masked.
            raise BrokerUrlError(
                f"cannot connect to {self.backend.display_url()}: {self._reason(exc)}"
            ) from None

    def _new_producer(self, conn: Connection) -> Producer:
        """Publish on the default channel; basic.return lands in `_on_return` where it is detected."""
        self._returned.clear()
        self._depth_channel = None
        on_return = self._on_return if self.backend.detects_returns else None
        return Producer(conn.default_channel, serializer="json", on_return=on_return)

    def _on_return(self, exc: BaseException, exchange: str, routing_key: str, message: Any) -> None:
        """basic.return for a mandatory publish (arrives before its confirm, on the producer thread)."""
        msg = str(getattr(message, "properties", {}).get("message_id") or "")
        if msg:
            self._returned[msg] = " ".join(str(getattr(exc, "reply_text", "") or exc).split())

    def _due_after(self, index: int) -> float | None:
        if index >= len(self._script):
            return None
        return time.monotonic() + self.clock.real_seconds(self._script[index].after)

    def _produce(self, conn: Connection, producer: Producer, should_stop: StopCheck) -> None:
        if self._pending is not None:  # interrupted by a lost broker: send it again first
            self._send(conn, producer, self._pending, should_stop)
        next_depth = 0.0
        while not should_stop():
            now = time.monotonic()
            if self._next_due is not None and now >= self._next_due:
                request = self.request_from_step(self._script[0])
                self._script.pop(0)
                self._next_due = self._due_after(0)
                self._send(conn, producer, request, should_stop)
            if now >= next_depth:
                self._poll_depths(conn)
                next_depth = now + DEPTH_POLL_SECONDS
            due = self._next_due
            wait = TICK if due is None else max(0.0, min(TICK, due - time.monotonic()))
            try:
                request = self._requests.get(timeout=wait)
            except queue.Empty:
                continue
            self._send(conn, producer, request, should_stop)
            # Drain what is already waiting in one go: bursts publish back to back.
            while not should_stop():
                try:
                    request = self._requests.get_nowait()
                except queue.Empty:
                    break
                self._send(conn, producer, request, should_stop)
                if time.monotonic() >= next_depth:
                    self._poll_depths(conn)
                    next_depth = time.monotonic() + DEPTH_POLL_SECONDS

    def _send(
        self, conn: Connection, producer: Producer, request: PublishRequest, should_stop: StopCheck
    ) -> None:
        if not self.gate.wait(should_stop):
            return
        predict_first = self.backend.detects_returns and not self.backend.reports_routing
        if self._pending is not request:  # a resend after a lost broker was announced already
            self.emit(
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
        producer.publish(
            request.body,
            exchange=request.exchange,
            routing_key=request.routing_key,
            headers=dict(request.headers),
            mandatory=request.mandatory or self.backend.detects_returns,
            **properties,
        )
        self._pending = None
        if self.backend.reports_routing:
            return
        if predict_first:
            if request.msg in self._returned:
                self._report_returned(request, self._returned.pop(request.msg))
            return
        self._emit_routed(request, producer.channel)

    def _emit_routed(self, request: PublishRequest, channel: Any) -> None:
        """Routed from the backend's answer, with a notice when it differs from RabbitMQ's routing."""
        expected = route(self.topology, request.exchange, request.routing_key, request.headers)
        queues = self.backend.routed(channel, request.exchange, request.routing_key, request.headers)
        if queues is None:
            return
        differs = queues != expected.queues
        self.emit(
            Routed(
                msg=request.msg,
                exchange=request.exchange,
                routing_key=request.routing_key,
                queues=queues,
                source=self.backend.route_source,
                via_alternate=expected.via_alternate,
                rabbitmq_queues=expected.queues if differs else None,
            )
        )
        if differs:
            self.emit(
                Notice(
                    msg=request.msg,
                    level="warning",
                    text=(
                        f"{self.backend.name} routed {request.routing_key!r} to "
                        f"{_names(queues)}; RabbitMQ routes it to {_names(expected.queues)}"
                    ),
                )
            )

    def _report_returned(self, request: PublishRequest, reason: str) -> None:
        """The broker returned a mandatory publish: it reached no queue, whatever was predicted."""
        self.emit(
            Returned(
                msg=request.msg,
                exchange=request.exchange,
                routing_key=request.routing_key,
                reason=reason or "NO_ROUTE",
            )
        )
        predicted = route(self.topology, request.exchange, request.routing_key, request.headers).queues
        if not predicted:
            return
        self.emit(
            Notice(
                msg=request.msg,
                level="warning",
                text=(
                    f"{self.backend.name} returned {request.routing_key!r} as unroutable; the "
                    f"scenario's bindings route it to {_names(predicted)} (the broker's differ)"
                ),
            )
        )
        for queue_name in predicted:  # the predicted copies never existed: close them
            self.emit(
                Dropped(msg=request.msg, queue=queue_name, reason="returned: no such binding on the broker")
            )

    def _poll_depths(self, conn: Connection) -> None:
        """Passive declares on a channel of their own: a missing queue closes only that channel."""
        if self._depth_channel is None:
            self._depth_channel = conn.channel()
        channel = self._depth_channel
        for spec in self.topology.queues:
            try:
                ready, unacked = self.backend.queue_depth(channel, spec.name)
            except conn.channel_errors:
                self._depth_channel = None  # the broker closed it (queue deleted under us)
                return
            depth = (ready, self._unacked_for(spec.name) if unacked is None else unacked)
            if self._last_depth.get(spec.name) != depth:
                self._last_depth[spec.name] = depth
                self.emit(QueueDepth(queue=spec.name, ready=depth[0], unacked=depth[1]))

    def _unacked_for(self, queue_name: str) -> int:
        with self._lock:
            return self._unacked.get(queue_name, 0)

    def track_unacked(self, queue_name: str, delta: int) -> None:
        """Consumers count their unacked copies for brokers that cannot report them."""
        with self._lock:
            self._unacked[queue_name] = max(0, self._unacked.get(queue_name, 0) + delta)

    # -- consumers (one thread each) ----------------------------------------------------------
    def consumer_loop(self, name: str) -> ConsumerLoop:
        spec = self.topology.consumer(name)
        if spec is None:
            raise KeyError(f"unknown consumer {name!r}")
        return ConsumerLoop(
            spec,
            self.topology,
            self.backend,
            self.emit,
            self.controls[name],
            self.clock,
            self.gate,
            on_unacked=self.track_unacked,
            attempts=self.attempts,
        )

    def run_consumer(self, name: str, should_stop: StopCheck) -> None:
        """Consume until stopped; waits for the producer thread to declare the topology first."""
        if self.tap is not None:
            return  # tap mode simulates no consumers: it only watches
        while not self.declared.wait(0.05):
            if should_stop():
                return
        self.consumer_loop(name).run(should_stop)


def _names(queues: tuple[str, ...]) -> str:
    return ", ".join(queues) if queues else "no queue"
