"""FlowEngine: declares a scenario's topology, runs the producer and consumer loops, emits events.

Each loop owns its own kombu Connection and runs in whatever thread calls it (a Textual thread worker
in the app, a plain thread headless). Loops poll a `should_stop` callable between short drains, so
they stop within ~0.1 s. Other threads talk to the loops only through thread-safe queues and flags.
"""

from __future__ import annotations

import itertools
import queue
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection

from core.backends import Backend, backend_for
from core.consumer import ConsumerLoop
from core.controls import AttemptCounter, Clock, ConsumerControl, StepGate, StopCheck
from core.events import (
    EventStream,
    FlowEvent,
)
from core.producer import ProducerLoop
from core.routing import routing_key_problem
from core.scenario import Scenario
from core.tap import TapSpec
from core.topology import PublishStep, TopologyError


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


_ID_MASK = 0xFFFFFFFF
_ID_KEY = secrets.randbits(32)
_id_counter = itertools.count(secrets.randbits(32))


def new_message_id() -> str:
    """8 hex characters like the tutorial's uuid prefix; tests replace it to pin ids.

    Random 8-hex ids collide in ~5% of 20,000-message runs (birthday bound), which silently merged two
    messages' fates. These are a 32-bit counter sent through a fixed random bijection (xor, then two
    multiply-xorshift rounds, each invertible): they look random, yet none repeats in a process before
    2**32 of them, with nothing remembered.
    """
    x = (next(_id_counter) ^ _ID_KEY) & _ID_MASK
    x = (x * 0x9E3779B1) & _ID_MASK
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & _ID_MASK
    x ^= x >> 13
    return f"{x:08x}"


RECENT_IDS = 4096
"""Ids MessageIds checks a new one against (the default source never repeats; a replaced one may)."""


class MessageIds:
    """Message ids, never repeating among the last RECENT_IDS even when `new_message_id` is replaced.

    Only recent ids are kept (the set of every id ever grew ~100 bytes a message): the default source
    is unique by construction, and a replaced one (tests pin ids) repeats, if at all, soon.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: set[str] = set()
        self._order: deque[str] = deque()

    def new(self) -> str:
        with self._lock:
            while (candidate := new_message_id()) in self._recent:
                pass
            self._recent.add(candidate)
            self._order.append(candidate)
            if len(self._order) > RECENT_IDS:
                self._recent.discard(self._order.popleft())
            return candidate


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
        self.ids = MessageIds()
        self._requests: queue.Queue[PublishRequest] = queue.Queue()
        self._unacked: dict[str, int] = {q.name: 0 for q in self.topology.queues}
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
            self.ids.new(),
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
        ProducerLoop(self).run(should_stop, play_script=play_script)

    def take_request(self, timeout: float | None) -> PublishRequest | None:
        """The next queued publish for the producer thread (None: none within `timeout`, or now)."""
        try:
            if timeout is None:
                return self._requests.get_nowait()
            return self._requests.get(timeout=timeout)
        except queue.Empty:
            return None

    def unacked_for(self, queue_name: str) -> int:
        """Unacked copies in `queue_name` as counted by the consumers."""
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
