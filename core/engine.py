"""FlowEngine: wiring only. It declares nothing itself: it builds the producer, consumer and tap
loops with exactly the dependencies each needs, and owns the event stream they all report into.

Each loop owns its own kombu Connection and runs in whatever thread a LoopRunner (core.runner) gives
it. Loops poll a `should_stop` callable between short drains, so they stop within ~0.1 s. Other
threads talk to the loops only through thread-safe queues and flags.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

from core.backends import Backend, backend_for
from core.consumer import ConsumerLoop
from core.controls import AttemptCounter, Clock, ConsumerControl, StepGate, StopCheck
from core.errors import InputError, one_line
from core.events import BrokerStatus, EventStream, FlowEvent, InternalError
from core.producer import ProducerLoop
from core.publishing import PublishError, PublishRequest, RequestQueue
from core.routing import routing_key_problem
from core.runner import Loop, LoopError
from core.scenario import Scenario
from core.tap import TapLoop, TapSpec
from core.topology import PublishStep, TopologyError

__all__ = ["FlowEngine", "MessageIds", "PublishError", "PublishRequest", "new_message_id"]


def new_message_id() -> str:
    """A short random id like the tutorial's (8 hex characters); tests replace it to pin ids."""
    return uuid.uuid4().hex[:8]


class MessageIds:
    """Short ids like the tutorial's (8 hex characters), guaranteed unique within one engine.

    Random 8-hex ids collide in ~5% of 20,000-message runs (birthday bound), which silently merged
    two messages' fates; a collision is simply drawn again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: set[str] = set()

    def new(self) -> str:
        with self._lock:
            while (candidate := new_message_id()) in self._used:
                pass
            self._used.add(candidate)
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
        self.requests = RequestQueue()
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
        self.requests.put(request)

    def request_from_step(self, step: PublishStep) -> PublishRequest:
        return self.make_request(
            step.exchange,
            step.routing_key,
            step.body,
            step.headers,
            mandatory=step.mandatory,
            expiration=step.expiration,
        )

    def unacked_for(self, queue_name: str) -> int:
        """Unacked copies in `queue_name` as counted by the consumers."""
        with self._lock:
            return self._unacked.get(queue_name, 0)

    def track_unacked(self, queue_name: str, delta: int) -> None:
        """Consumers count their unacked copies for brokers that cannot report them."""
        with self._lock:
            self._unacked[queue_name] = max(0, self._unacked.get(queue_name, 0) + delta)

    # -- the loops ------------------------------------------------------------------------------
    def loops(self, *, play_script: bool = True) -> list[tuple[str, Loop]]:
        """The named loops to run, one thread each: the tap alone in tap mode, else the producer and
        one loop per consumer."""
        if self.tap is not None:
            return [("tap", self.tap_loop(self.tap).run)]
        loops: list[tuple[str, Loop]] = [("producer", self.producer_loop(play_script=play_script).run)]
        for spec in self.topology.consumers:
            loops.append((f"consumer:{spec.name}", self._after_declared(self.consumer_loop(spec.name).run)))
        return loops

    def producer_loop(self, *, play_script: bool = True) -> ProducerLoop:
        return ProducerLoop(
            self.backend,
            self.topology,
            self.emit,
            self.requests,
            script=self.scenario.publishes if play_script else (),
            make_request=self.request_from_step,
            clock=self.clock,
            gate=self.gate,
            unacked_for=self.unacked_for,
            declared=self.declared,
        )

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

    def tap_loop(self, spec: TapSpec) -> TapLoop:
        return TapLoop(spec, self.topology, self.backend, self.emit)

    def _after_declared(self, loop: Loop) -> Loop:
        """Consumers start once the producer declared the topology (their queues must exist)."""

        def run(should_stop: StopCheck) -> None:
            while not self.declared.wait(0.05):
                if should_stop():
                    return
            loop(should_stop)

        return run

    # -- errors -------------------------------------------------------------------------------
    def report_failure(self, failure: LoopError) -> None:
        """A loop ended by an exception (any thread): bad input becomes the broker status's error
        line; anything else is a bug, reported as an InternalError with its traceback."""
        if isinstance(failure.error, InputError):
            backend = self.backend
            self.emit(
                BrokerStatus(
                    broker=backend.display_url(),
                    state="error",
                    faithful=backend.faithful,
                    detail=one_line(failure.error),
                )
            )
            return
        self.emit(InternalError(where=failure.loop, error=failure.summary, traceback=failure.traceback))
