"""Engine: wiring only. It declares nothing itself: it builds the producer, consumer and tap
loops with exactly the dependencies each needs, and owns the event stream they all report into.

Each loop owns its own kombu Connection and runs in whatever thread a LoopRunner (core.runner) gives
it. Loops poll a `should_stop` callable between short drains, so they stop within ~0.1 s. Other
threads talk to the loops only through thread-safe queues and flags.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.backends import Backend, backend_for
from core.consumer import ConsumerLoop
from core.controls import AttemptCounter, Clock, ConsumerControl, StepGate, StopCheck
from core.discovery import DISCOVERED, DiscoveryLoop, DiscoverySource
from core.errors import InputError, one_line
from core.events import BrokerStatus, EventStream, FlowEvent, InternalError, TopologyChanged
from core.observe.loop import ObserveLoop, ObserveSpec
from core.producer import ProducerLoop
from core.producers import Producers, ProducerWiring
from core.publishing import PublishError, PublishRequest, RequestQueue, TopologyRequest, publish_problem
from core.routing import routing_key_problem
from core.runner import Loop, LoopError, LoopRunner
from core.scenario import Scenario
from core.tap import TapLoop, TapSpec
from core.text import visible
from core.topology import ConsumerSpec, PublishStep, Topology, TopologyError
from core.topology_changes import LiveTopology, TopologyChange, apply_change, change_problem

__all__ = ["Engine", "IdSource", "MessageIds", "PublishError", "PublishRequest", "new_message_id"]


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


IdSource = Callable[[], str]
"""Where an engine's message ids come from (tests and tui.testing pass a counter: 00000001, ...)."""

RECENT_IDS = 4096
"""Ids MessageIds checks a new one against (the default source never repeats; a replaced one may)."""


class MessageIds:
    """Message ids, never repeating among the last RECENT_IDS even when `new_message_id` is replaced.

    Only recent ids are kept (the set of every id ever grew ~100 bytes a message): the default source
    is unique by construction, and a replaced one (tests pin ids) repeats, if at all, soon.
    """

    def __init__(self, source: IdSource | None = None) -> None:
        self._source = source
        """None: `new_message_id`, looked up at each call."""
        self._lock = threading.Lock()
        self._recent: set[str] = set()
        self._order: deque[str] = deque()
        self.issued = 0
        """Ids handed out so far (one per accepted publish): tui.testing waits for that many."""
        self.last: str | None = None

    def new(self) -> str:
        with self._lock:
            source = self._source or new_message_id
            while (candidate := source()) in self._recent:
                pass
            self._recent.add(candidate)
            self._order.append(candidate)
            self.issued += 1
            self.last = candidate
            if len(self._order) > RECENT_IDS:
                self._recent.discard(self._order.popleft())
            return candidate


class Engine:
    """The model of one running scenario on one broker; thread-safe entry points for the UI."""

    def __init__(
        self,
        scenario: Scenario,
        broker_url: str,
        *,
        speed: float = 1.0,
        ids: IdSource | None = None,
        backend: Backend | None = None,
    ) -> None:
        """`ids`: where message ids come from (default: `new_message_id`); a reset's new engine is
        given the same source, so pinned ids go on counting instead of starting again. `backend`:
        instead of the one `broker_url` names (a replay's, which contacts no broker)."""
        self.scenario = scenario
        self.id_source = ids
        self.live = LiveTopology(scenario.topology)
        """The topology as the broker has it now; the producer thread folds each change in."""
        self.backend: Backend = backend if backend is not None else backend_for(broker_url)
        if (problem := self.backend.unsupported(scenario.topology)) is not None:
            raise TopologyError(problem)
        self.events = EventStream()
        self.clock = Clock(speed)
        self.gate = StepGate()
        self.controls = {c.name: ConsumerControl(c.name) for c in scenario.topology.consumers}
        self.declared = threading.Event()
        self.attempts = AttemptCounter()
        self.ids = MessageIds(ids)
        self.requests = RequestQueue()
        self.script_played = 0
        """Script steps the producer has taken up so far (tui.testing waits for the whole script)."""
        self._unacked: dict[str, int] = {q.name: 0 for q in self.topology.queues}
        self.tap: TapSpec | None = None
        """Set (before starting the loops) to watch an existing exchange instead of running the scenario."""
        self.observe: ObserveSpec | None = None
        """Set (before starting the loops) to watch the vhost through the firehose (core.observe)."""
        self.refusal: str | None = None
        """Why this engine takes no command at all (a replay plays a recording), or None."""
        self.discovery: DiscoverySource | None = None
        """Set (before starting the loops) to watch a live vhost's topology (core.discovery): then
        mqscope declares nothing, runs no consumer or producer of its own, and publishes nothing."""
        self._lock = threading.Lock()
        self._runner: LoopRunner | None = None
        self._changes: list[TopologyRequest] = []
        """Topology changes queued and not yet made: the next change is checked against them too."""
        self._retire: dict[str, threading.Event] = {}
        """Per consumer, the event that stops its current loop (set when a change replaces it)."""
        self._ended: dict[str, threading.Event] = {}
        """Per consumer, the event its current loop sets when it has ended."""
        self._generation = itertools.count(2)
        for spec in scenario.topology.consumers:
            if spec.manual:
                self.controls[spec.name].manual.set()
        self.producers = Producers(
            scenario.producers,
            ProducerWiring(
                make_request=self.make_request,
                enqueue=self.enqueue,
                waiting=self.requests.waiting,
                clock=self.clock,
                gate=self.gate,
                emit=self.emit,
            ),
        )
        """The scenario's producers and those added live: each a loop on the runner (core.producers)."""

    @property
    def topology(self) -> Topology:
        """The topology as it is now (a snapshot: it is replaced whole on every change)."""
        return self.live.current

    def renewed(self, scenario: Scenario) -> Engine:
        """The engine a reset or a scenario switch goes on with: same broker, speed and ids, and
        whoever tees this one's stream (a --record recorder) tees the new one's."""
        engine = Engine(scenario, self.backend.url, speed=self.clock.speed, ids=self.id_source)
        # Watching someone's broker stays watching: a reset must not run the scenario on it.
        engine.tap, engine.discovery = self.tap, self.discovery
        engine.observe = self.observe
        engine.events.tees.extend(self.events.tees)
        engine.events.max_lag = self.events.max_lag
        return engine

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
        priority: int | None = None,
    ) -> PublishRequest:
        """Validate a publish and give it an id; raises PublishError with a one-line reason."""
        problem = (
            self.watch_only("publishes nothing")
            or publish_problem(exchange, routing_key, body, headers or {}, expiration)
            or routing_key_problem(routing_key)
        )
        if problem is None and exchange != "" and self.topology.exchange(exchange) is None:
            problem = f"unknown exchange '{visible(exchange)}'"
        if problem is None and priority is not None and not 0 <= priority <= 255:
            problem = f"priority must be between 0 and 255, not {priority}"
        if problem is not None:
            raise PublishError(problem)
        return PublishRequest(
            self.ids.new(),
            exchange,
            routing_key,
            {} if body is None else body,
            dict(headers or {}),
            mandatory,
            expiration,
            priority,
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
        """A script step's request (the producer thread calls this as each step falls due)."""
        self.script_played += 1
        return self.make_request(
            step.exchange,
            step.routing_key,
            step.body,
            step.headers,
            mandatory=step.mandatory,
            expiration=step.expiration,
            priority=step.priority,
        )

    def watch_only(self, what: str) -> str | None:
        """In observe, tap and discovery mode, why mqscope `what` (it only watches the user's broker:
        it never publishes or declares there; Enter in the lens is refused with this line); else None."""
        if self.observe is not None:
            return f"observe mode only watches {self.backend.display_url()}: it {what}"
        if self.tap is not None:
            where = f"{visible(self.tap.exchange)} on {self.backend.display_url()}"
            return f"tap mode only watches {where}: it {what}"
        if self.discovery is not None:
            return f"discovery mode only watches the broker: it {what}"
        return None

    def unacked_for(self, queue_name: str) -> int:
        """Unacked copies in `queue_name` as counted by the consumers."""
        with self._lock:
            return self._unacked.get(queue_name, 0)

    def track_unacked(self, queue_name: str, delta: int) -> None:
        """Consumers count their unacked copies for brokers that cannot report them."""
        with self._lock:
            self._unacked[queue_name] = max(0, self._unacked.get(queue_name, 0) + delta)

    # -- the loops ------------------------------------------------------------------------------
    def start(self, runner: LoopRunner, *, play_script: bool = True) -> None:
        """Start every loop on `runner`; consumers declared later while running start on it too."""
        self._runner = runner
        runner.start_all(self.loops(play_script=play_script))
        if (refused := self.watch_only("publishes nothing")) is None:
            self.producers.start(runner, declared=play_script)  # --no-script: nor the producers
        else:
            self.producers.refuse(refused)

    def loops(self, *, play_script: bool = True) -> list[tuple[str, Loop]]:
        """The named loops to run, one thread each: the tap alone in tap mode, else the producer and
        one loop per consumer. Watching (observe, tap, discovery): their loops alone."""
        watching: list[tuple[str, Loop]] = []
        if self.discovery is not None:
            watching.append(("discovery", self.discovery_loop(self.discovery).run))
        if self.observe is not None:
            observe = ObserveLoop(self.observe, lambda: self.topology, self.backend, self.emit)
            watching += [("observe", observe.run), ("observe-depths", observe.poll)]
        elif self.tap is not None:
            watching.append(("tap", self.tap_loop(self.tap).run))
        if watching:
            return watching
        loops: list[tuple[str, Loop]] = [("producer", self.producer_loop(play_script=play_script).run)]
        for spec in self.topology.consumers:
            retire = self._retire.setdefault(spec.name, threading.Event())
            ended = self._ended.setdefault(spec.name, threading.Event())
            run = self._consumer_run(spec, self.topology, self.declared, retire, ended)
            loops.append((f"consumer:{spec.name}", run))
        return loops

    def producer_loop(self, *, play_script: bool = True) -> ProducerLoop:
        return ProducerLoop(
            self.backend,
            self.live,
            self.emit,
            self.requests,
            script=self.scenario.publishes if play_script else (),
            make_request=self.request_from_step,
            clock=self.clock,
            gate=self.gate,
            unacked_for=self.unacked_for,
            declared=self.declared,
            keep_pace=self.events.keep_pace,
        )

    def consumer_loop(
        self, name: str, spec: ConsumerSpec | None = None, topology: Topology | None = None
    ) -> ConsumerLoop:
        """The loop of consumer `name` (`spec`, within `topology`: by default as they are now)."""
        topology = topology or self.topology
        spec = spec or topology.consumer(name)
        if spec is None:
            raise KeyError(f"unknown consumer {name!r}")
        return ConsumerLoop(
            spec,
            topology,
            self.backend,
            self.emit,
            self.controls.setdefault(name, ConsumerControl(name)),
            self.clock,
            self.gate,
            on_unacked=self.track_unacked,
            attempts=self.attempts,
        )

    def tap_loop(self, spec: TapSpec) -> TapLoop:
        return TapLoop(spec, self.topology, self.backend, self.emit, live=self.live)

    def discovery_loop(self, source: DiscoverySource) -> DiscoveryLoop:
        """Discovery's refresh loop: what changed on the broker is folded in as `observe_topology`
        folds a --run program's declarations (already made; nothing is sent)."""
        return DiscoveryLoop(
            source,
            self.live,
            self.emit,
            lambda change: self.observe_topology(change, origin=DISCOVERED),
            self.backend.display_url(),
        )

    def _consumer_run(
        self,
        spec: ConsumerSpec,
        topology: Topology,
        start: threading.Event,
        retire: threading.Event,
        ended: threading.Event,
    ) -> Loop:
        """A consumer's loop: it waits until its queues exist (`start`), and ends when the runner
        stops or a topology change replaces or deletes this consumer (`retire`); `ended` is set
        once it has (the change that retired it waits for that)."""
        loop = self.consumer_loop(spec.name, spec, topology)

        def run(should_stop: StopCheck) -> None:
            def retired() -> bool:
                return retire.is_set() or should_stop()

            try:
                while not start.wait(0.05):
                    if retired():
                        return
                loop.run(retired)
            finally:
                ended.set()

        return run

    # -- changing the topology (any thread) -----------------------------------------------------
    def change_topology(self, change: TopologyChange, *, origin: str = "app") -> None:
        """Check a change against the topology as it will be, then queue it for the producer
        thread, in order with the messages; raises TopologyError with a one-line reason.

        A consumer's loop starts (or stops) on the runner when the change is made, not before.
        """
        self.change_topology_all((change,), origin=origin)

    def change_topology_all(self, changes: Sequence[TopologyChange], *, origin: str = "app") -> Topology:
        """Several changes as one edit (an editor's "change this queue's arguments" is delete, declare,
        rebind): each is checked against the topology the ones before it leave, and either all are
        queued or none is (TopologyError with the first one-line reason). Returns the topology they
        were checked against (what an undo restores)."""
        with self._lock:
            if (refused := self.watch_only("changes nothing")) is not None:
                raise TopologyError(refused)
            before = planned = self._planned()
            if (problem := self._problem_all(planned, changes)) is not None:
                raise TopologyError(problem)
            requests = []
            for change in changes:
                request = TopologyRequest(change, origin)
                if isinstance(change.entity, ConsumerSpec):
                    request = self._consumer_change(request, change.entity, planned)
                self._changes.append(request)
                requests.append(request)
                planned = apply_change(planned, change)
        for request in requests:
            self.requests.put(request)
        return before

    def topology_problem(self, changes: Sequence[TopologyChange]) -> str | None:
        """Why `changes` would be refused now (one line), or None; makes nothing (a form's check)."""
        with self._lock:
            if (refused := self.watch_only("changes nothing")) is not None:
                return refused
            return self._problem_all(self._planned(), changes)

    def _problem_all(self, topology: Topology, changes: Sequence[TopologyChange]) -> str | None:
        for change in changes:
            if (problem := self._change_problem(topology, change)) is not None:
                return problem
            topology = apply_change(topology, change)
        return None

    def _change_problem(self, topology: Topology, change: TopologyChange) -> str | None:
        problem = change_problem(topology, change) or self.backend.change_unsupported(topology, change)
        starts_loop = isinstance(change.entity, ConsumerSpec) and change.op == "declare"
        if problem is None and starts_loop and self._runner is None:
            return "the engine is not running: declare consumers in the scenario"
        return problem

    def observe_topology(self, change: TopologyChange, *, origin: str) -> None:
        """A change the broker has already made (a program under --run declared it): fold it into
        the live topology and report it, in order with that program's messages; nothing is sent."""
        with self._lock:  # folded and reported in one order, whichever of its threads declared
            before = self.live.current
            after = self.live.apply(change)
            if after is not before:
                self.backend.topology_changed(after)
                self.emit(TopologyChanged(change=change, origin=origin))

    def _consumer_change(
        self, request: TopologyRequest, spec: ConsumerSpec, planned: Topology
    ) -> TopologyRequest:
        """Retire the consumer's running loop when the change is made; start its new one then."""
        name = spec.name
        known = planned.consumer(name) is not None
        old = self._retire.get(name) if known else None
        ended = self._ended.get(name) if known else None
        request = TopologyRequest(request.change, request.origin, retires=old, retired=ended)
        if request.change.op == "declare":
            if self._runner is None:
                raise TopologyError("the engine is not running: declare consumers in the scenario")
            # A name that ever had a loop gets a new generation (deleted and declared again included).
            generation = "" if name not in self._retire else f"#{next(self._generation)}"
            retire = self._retire[name] = threading.Event()
            ended = self._ended[name] = threading.Event()
            topology = apply_change(planned, request.change)  # the consumer's queues as they will be
            run = self._consumer_run(spec, topology, request.done, retire, ended)
            self._runner.start(f"consumer:{name}{generation}", run)
        return request

    def _planned(self) -> Topology:
        """The topology once every queued change is made (refused ones drop out)."""
        self._changes = [r for r in self._changes if r.outstanding]
        topology = self.live.current
        for request in self._changes:
            topology = apply_change(topology, request.change)
        return topology

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
