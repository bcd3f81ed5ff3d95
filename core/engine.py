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

from core.backends import Backend, backend_for
from core.consumer import ConsumerLoop
from core.controls import TICK, AttemptCounter, Clock, ConsumerControl, StepGate, StopCheck
from core.events import (
    BrokerStatus,
    EventStream,
    FlowEvent,
    Notice,
    Published,
    QueueDepth,
    Routed,
)
from core.routing import route, routing_key_problem
from core.scenario import Scenario
from core.topology import PublishStep, TopologyError

DEPTH_POLL_SECONDS = 0.25


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
        """Declare, attach broker reporting, then publish script steps and requests until stopped."""
        self.emit(
            BrokerStatus(
                broker=self.backend.display_url(),
                state="connecting",
                faithful=self.backend.faithful,
                detail=self.backend.name,
            )
        )
        self.backend.attach(self.emit, self.topology)
        try:
            with self.backend.connection() as conn:
                conn.ensure_connection(max_retries=3)
                self.declare(conn)
                self.emit(
                    BrokerStatus(
                        broker=self.backend.display_url(),
                        state="connected",
                        faithful=self.backend.faithful,
                        detail=self.backend.name,
                    )
                )
                producer = Producer(conn.default_channel, serializer="json")
                self._produce(conn, producer, should_stop, play_script)
        finally:
            self.backend.detach()

    def _produce(
        self, conn: Connection, producer: Producer, should_stop: StopCheck, play_script: bool
    ) -> None:
        script = list(self.scenario.publishes) if play_script else []
        next_due = time.monotonic() + self.clock.real_seconds(script[0].after) if script else None
        next_depth = 0.0
        while not should_stop():
            now = time.monotonic()
            if next_due is not None and now >= next_due:
                step = script.pop(0)
                self._send(conn, producer, self.request_from_step(step), should_stop)
                next_due = time.monotonic() + self.clock.real_seconds(script[0].after) if script else None
            if now >= next_depth:
                self._poll_depths(conn)
                next_depth = now + DEPTH_POLL_SECONDS
            wait = TICK if next_due is None else max(0.0, min(TICK, next_due - time.monotonic()))
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
        self.emit(
            Published(
                msg=request.msg,
                exchange=request.exchange,
                routing_key=request.routing_key,
                body=request.body,
                headers=dict(request.headers),
            )
        )
        properties: dict[str, Any] = {"message_id": request.msg}
        if request.expiration is not None:
            properties["expiration"] = str(int(request.expiration * 1000))
        producer.publish(
            request.body,
            exchange=request.exchange,
            routing_key=request.routing_key,
            headers=dict(request.headers),
            mandatory=request.mandatory,
            **properties,
        )
        if self.backend.reports_routing:
            return
        queues = self.backend.routed(producer.channel, request.exchange, request.routing_key, request.headers)
        if queues is None:
            return
        expected = route(self.topology, request.exchange, request.routing_key, request.headers)
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

    def _poll_depths(self, conn: Connection) -> None:
        channel = conn.default_channel
        for spec in self.topology.queues:
            ready, unacked = self.backend.queue_depth(channel, spec.name)
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
        while not self.declared.wait(0.05):
            if should_stop():
                return
        self.consumer_loop(name).run(should_stop)


def _names(queues: tuple[str, ...]) -> str:
    return ", ".join(queues) if queues else "no queue"
