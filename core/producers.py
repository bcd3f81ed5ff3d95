"""Producers that keep going: named publishers with a rate, keys and bodies, run while the engine runs.

A producer is a loop of its own on the engine's thread runner. It does not publish itself: it makes
validated requests on a steady schedule and hands them to the one producer thread (core.producer),
which owns the connection, confirms, returns and reconnects. So a producer's messages are in order
with everything else published, and a broker outage holds them up like any other publish.

The schedule is a token bucket in simulated time (rate x speed): credit accrues with the clock and a
message is made per whole token, the fraction carried over, so the rate does not drift however late
the thread wakes. Credit is capped (CATCH_UP_SECONDS of messages): after a long stall the producer
does not fire a burst to make up for all of it. While the app is frozen, the producer is paused, or
the producer thread is behind (MAX_WAITING requests queued), no credit accrues at all.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from core.controls import Clock, StepGate, StopCheck
from core.errors import InputError
from core.events import FlowEvent, Notice
from core.publishing import PublishError, PublishRequest, body_problem, field_table_problem
from core.routing import routing_key_problem
from core.runner import Loop, LoopRunner
from core.text import short, visible
from core.topology import Topology, name_problem

MIN_RATE, MAX_RATE = 0.1, 1000.0
"""Messages a second a producer may be given (in simulated time: 0.25x speed sends a quarter)."""
CATCH_UP_SECONDS = 1.0
"""The most credit a producer keeps: a thread that wakes late (a busy machine) sends what fell due in
this long, and never more. A freeze, a paused producer or a producer thread that is behind accrues no
credit at all (RateSchedule.hold), so none of them is made up for with a burst."""
MAX_WAITING = 2_000
"""Requests waiting for the producer thread above which producers stop adding more: a broker slower
than the offered rate shows as a lower offered rate, not as memory growing without end."""
LONGEST_NAP = 0.1
"""The longest a producer sleeps before it looks at its stop flag and its rate again."""
SHORTEST_NAP = 0.01
"""At high rates a producer wakes at most this often and makes every message due since (1000 msg/s:
about ten a wake-up), instead of a thread switch per message."""


class ProducerError(InputError):
    """A producer that cannot run as given (bad rate, weights, keys, bodies, unknown exchange)."""


@dataclass(frozen=True)
class KeyChoice:
    """A routing key and how often it is picked relative to the others (weighted choices)."""

    key: str
    weight: float = 1.0


@dataclass(frozen=True)
class ProducerSpec:
    """A producer: where it publishes, how fast, with which keys, bodies and headers.

    Keys are taken in turn, or, when `weighted`, drawn at random by weight (seeded by the producer's
    name, so a run repeats); bodies are taken in turn; every message carries the same headers.
    """

    name: str
    exchange: str
    rate: float
    keys: tuple[KeyChoice, ...] = (KeyChoice(""),)
    weighted: bool = False
    bodies: tuple[Any, ...] = field(default_factory=lambda: ({},))
    headers: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """AMQP headers on every message (what a headers exchange routes by; a routing key alone cannot)."""


def rate_problem(rate: float) -> str | None:
    """Why `rate` is not a usable producer rate, or None."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
        return f"rate must be a number of messages a second, not {rate!r}"
    if not MIN_RATE <= rate <= MAX_RATE:
        return f"rate must be between {MIN_RATE:g} and {MAX_RATE:g} messages a second, not {rate:g}"
    return None


def producer_problem(spec: ProducerSpec, topology: Topology) -> str | None:
    """Why this producer cannot run on `topology`, as `field: problem`, or None."""
    if spec.name == "":
        return "name must not be empty"
    if (p := name_problem("producer", spec.name)) is not None:
        return f"name: {p}"
    if visible(spec.name) != spec.name:
        return f"name '{visible(spec.name)}' holds control characters"
    if spec.exchange != "" and topology.exchange(spec.exchange) is None:
        return f"exchange: unknown exchange {short(spec.exchange)}"
    if (p := rate_problem(spec.rate)) is not None:
        return p
    if not spec.keys:
        return "keys: give at least one routing key"
    for choice in spec.keys:
        if (p := routing_key_problem(choice.key)) is not None:
            return f"keys: {p}"
        weight = choice.weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            return f"keys: weight of {short(choice.key)} must be a finite number, not {weight!r}"
        if weight <= 0:
            return f"keys: weight of {short(choice.key)} must be above 0, not {weight:g}"
    if not spec.bodies:
        return "bodies: give at least one body"
    for index, body in enumerate(spec.bodies, start=1):
        if (p := body_problem(body, f"bodies[{index}]")) is not None:
            return p
    if (p := field_table_problem(spec.headers, "headers")) is not None:
        return p
    return None


class RateSchedule:
    """A token bucket in simulated time: how many messages fell due since the last look."""

    def __init__(self, now: float) -> None:
        self._last = now
        self._credit = 1.0  # the first message goes at once: a producer added is seen working

    def due(self, now: float, per_second: float) -> int:
        """Whole messages due at `now` at `per_second` (rate x speed); the fraction is kept."""
        self._credit += max(0.0, now - self._last) * per_second
        self._last = now
        # The fraction left over plus CATCH_UP's worth: a thread that wakes within CATCH_UP never
        # loses credit (that would be drift); one that stalls longer loses the rest.
        self._credit = min(self._credit, 1.0 + max(1.0, per_second * CATCH_UP_SECONDS))
        count = int(self._credit)
        self._credit -= count
        return count

    def hold(self, now: float) -> None:
        """Time passes without credit (frozen, paused, or the producer thread is behind)."""
        self._last = now

    def seconds_to_next(self, per_second: float) -> float:
        """Real seconds until the next message is due at `per_second`."""
        return max(0.0, (1.0 - self._credit) / per_second)


class Picker:
    """The keys and bodies of one producer, in turn (keys drawn by weight when weighted)."""

    def __init__(self, spec: ProducerSpec) -> None:
        self._bodies = itertools.cycle(spec.bodies)
        self._keys: Iterator[str]
        if spec.weighted:
            rng = random.Random(spec.name)
            keys = [c.key for c in spec.keys]
            weights = [c.weight for c in spec.keys]
            self._keys = iter(lambda: rng.choices(keys, weights)[0], None)
        else:
            self._keys = itertools.cycle([c.key for c in spec.keys])

    def next(self) -> tuple[str, Any]:
        return next(self._keys), next(self._bodies)


class ProducerControl:
    """What the UI changes while a producer runs (any thread): its rate, pause, and retirement."""

    def __init__(self, spec: ProducerSpec) -> None:
        self._lock = threading.Lock()
        self._spec = spec
        self.paused = threading.Event()
        self.retired = threading.Event()
        """Set when the producer is removed: its loop ends at its next look."""
        self.woken = threading.Event()
        """Set on any change, so a producer asleep for a slow rate looks again at once."""
        self.sent = 0
        """Requests this producer handed to the producer thread (read by tests and the palette)."""

    @property
    def spec(self) -> ProducerSpec:
        with self._lock:
            return self._spec

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self._spec = replace(self._spec, rate=rate)
        self.woken.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""
        if self.paused.is_set():
            self.paused.clear()
        else:
            self.paused.set()
        self.woken.set()
        return self.paused.is_set()

    def retire(self) -> None:
        self.retired.set()
        self.woken.set()


MakeRequest = Callable[[str, str, Any, Mapping[str, Any]], PublishRequest]
"""(exchange, routing key, body, headers) -> a validated request (the engine's make_request)."""


@dataclass(frozen=True)
class ProducerWiring:
    """What every producer loop uses, from the engine: request making, hand-over, clock and gate."""

    make_request: MakeRequest
    enqueue: Callable[[PublishRequest], None]
    waiting: Callable[[], int]
    clock: Clock
    gate: StepGate
    emit: Callable[[FlowEvent], None]


def producer_loop(
    control: ProducerControl, wiring: ProducerWiring, forget: Callable[[], None] = lambda: None
) -> Loop:
    """The loop body of one producer: make requests on schedule until stopped or removed; one that
    cannot go on (its exchange was deleted) says so in a notice and is `forget`-ten."""

    def run(should_stop: StopCheck) -> None:
        spec = control.spec
        picker = Picker(spec)
        schedule = RateSchedule(time.monotonic())
        while not (should_stop() or control.retired.is_set()):
            now = time.monotonic()
            per_second = control.spec.rate * wiring.clock.speed
            if wiring.gate.paused or control.paused.is_set() or wiring.waiting() >= MAX_WAITING:
                schedule.hold(now)
                nap = LONGEST_NAP
            else:
                for _ in range(schedule.due(now, per_second)):
                    key, body = picker.next()
                    try:
                        request = wiring.make_request(spec.exchange, key, body, spec.headers)
                    except PublishError as exc:  # its exchange was deleted while it ran
                        text = f"producer {spec.name} stopped: {exc}"
                        wiring.emit(Notice(level="warning", text=text))
                        forget()
                        return
                    wiring.enqueue(request)
                    control.sent += 1
                nap = min(LONGEST_NAP, max(SHORTEST_NAP, schedule.seconds_to_next(per_second)))
            control.woken.wait(nap)
            control.woken.clear()

    return run


class Producers:
    """The engine's producers by name: those of the scenario, and those added, re-rated or removed live."""

    def __init__(self, specs: tuple[ProducerSpec, ...], wiring: ProducerWiring) -> None:
        self._wiring = wiring
        self._lock = threading.Lock()
        self._controls: dict[str, ProducerControl] = {s.name: ProducerControl(s) for s in specs}
        self._runner: LoopRunner | None = None
        self._generation = itertools.count(2)
        self._refusal = "the engine is not running: declare producers in the scenario"
        """Why `add` refuses while no runner is attached."""

    # -- reading (any thread) ---------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        with self._lock:
            return list(self._controls)

    def control(self, name: str) -> ProducerControl | None:
        with self._lock:
            return self._controls.get(name)

    def specs(self) -> dict[str, ProducerSpec]:
        with self._lock:
            return {name: c.spec for name, c in self._controls.items()}

    # -- running ----------------------------------------------------------------------------------
    def start(self, runner: LoopRunner, *, declared: bool = True) -> None:
        """Start the scenario's producers on `runner` (none when not `declared`: --no-script);
        producers added later start on it too."""
        with self._lock:
            self._runner = runner
            if not declared:
                self._controls.clear()
            controls = list(self._controls.items())
        for name, control in controls:
            loop = producer_loop(control, self._wiring, self._forgetter(name, control))
            runner.start(f"producer:{name}", loop)

    def refuse(self, why: str) -> None:
        """Run no producer, now or later (tap mode publishes nothing): `add` says `why`."""
        with self._lock:
            self._controls.clear()
            self._refusal = why

    def _forgetter(self, name: str, control: ProducerControl) -> Callable[[], None]:
        """Drop `control` from the producers (not a later producer given the same name)."""

        def forget() -> None:
            with self._lock:
                if self._controls.get(name) is control:
                    del self._controls[name]
            control.retire()

        return forget

    # -- changing (any thread) --------------------------------------------------------------------
    def add(self, spec: ProducerSpec, topology: Topology) -> None:
        """Start a new producer; raises ProducerError with a one-line reason."""
        if (p := producer_problem(spec, topology)) is not None:
            raise ProducerError(f"producer {short(spec.name)}: {p}")
        with self._lock:
            if spec.name in self._controls:
                raise ProducerError(f"producer {short(spec.name)}: a producer of that name is running")
            if self._runner is None:
                raise ProducerError(self._refusal)
            control = self._controls[spec.name] = ProducerControl(spec)
            runner = self._runner
        loop = producer_loop(control, self._wiring, self._forgetter(spec.name, control))
        runner.start(f"producer:{spec.name}#{next(self._generation)}", loop)

    def remove(self, name: str) -> None:
        """Stop a producer (what it already handed over is still sent)."""
        with self._lock:
            control = self._controls.pop(name, None)
        if control is None:
            raise ProducerError(f"no producer named {short(name)}")
        control.retire()

    def set_rate(self, name: str, rate: float) -> None:
        """Change a running producer's rate; raises ProducerError when out of range."""
        if (p := rate_problem(rate)) is not None:
            raise ProducerError(f"producer {short(name)}: {p}")
        control = self.control(name)
        if control is None:
            raise ProducerError(f"no producer named {short(name)}")
        control.set_rate(float(rate))


def parse_rate(text: str) -> float:
    """A rate typed by the user ("5", "0.5", "1e3"); raises ProducerError with a one-line reason."""
    try:
        rate = float(text.strip())
    except ValueError:
        raise ProducerError(f"rate must be a number of messages a second, not {text.strip()!r}") from None
    if (p := rate_problem(rate)) is not None:
        raise ProducerError(p)
    return rate


def key_choices(raw: list[Any]) -> tuple[tuple[KeyChoice, ...], bool]:
    """Keys as a scenario or form gives them: strings, or tables {key, weight}; (choices, weighted).

    Raises ValueError naming the entry that is neither (the caller adds where it was)."""
    choices: list[KeyChoice] = []
    weighted = False
    for index, item in enumerate(raw, start=1):
        if isinstance(item, str):
            choices.append(KeyChoice(item))
        elif isinstance(item, Mapping):
            unknown = sorted(set(item) - {"key", "weight"})
            if unknown:
                raise ValueError(f"keys[{index}]: unknown field {unknown[0]!r} (allowed: key, weight)")
            key, weight = item.get("key"), item.get("weight", 1.0)
            if not isinstance(key, str):
                raise ValueError(f"keys[{index}]: key must be a string")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise ValueError(f"keys[{index}]: weight must be a number")
            choices.append(KeyChoice(key, float(weight)))
            weighted = True
        else:
            raise ValueError(f"keys[{index}]: must be a routing key or {{key = ..., weight = ...}}")
    return tuple(choices), weighted


def keys_from_text(text: str) -> tuple[tuple[KeyChoice, ...], bool]:
    """Keys as typed in a form: `video.upload:3, user.login:1` (weighted) or `a.b, c.d` (in turn).

    A `:` followed by a number is a weight; any other `:` belongs to the key. Nothing typed is the
    empty routing key."""
    choices: list[KeyChoice] = []
    weighted = False
    for part in text.split(","):
        key = part.strip()
        head, sep, tail = key.rpartition(":")
        if sep:
            try:
                weight = float(tail)
            except ValueError:
                weight = None
            if weight is not None:
                choices.append(KeyChoice(head.strip(), weight))
                weighted = True
                continue
        choices.append(KeyChoice(key))
    return tuple(choices), weighted
