"""Producers and manual consumers in the app: actions, keys, palette commands and the rate meters.

Producers (core.producers) are added, re-rated, paused and removed through the engine's thread-safe
`Producers`; a manual consumer's decisions go through its ConsumerControl's hand-over. Nothing here
touches the broker: the engine's threads do, and their events come back through the frame.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from functools import partial

from textual.app import SystemCommand
from textual.timer import Timer

from core.errors import InputError
from core.producers import MAX_RATE, MIN_RATE
from core.rates import RateMeter
from core.topology import TopologyError
from core.topology_changes import declare
from tui.controls import ControlsApp
from tui.text import visible
from tui.widgets.hand_screen import HandScreen
from tui.widgets.producer_forms import ProducerForm, RateForm

RATE_SAMPLE_SECONDS = 0.5
"""How often the offered and delivered rates are read while producers run."""


class ProducerControls(ControlsApp):
    """The app's producer and manual-consumer actions and palette commands, and the rate meters."""

    _rates_timer: Timer

    def __init__(self) -> None:
        super().__init__()
        self._offered, self._delivered = RateMeter(), RateMeter()

    def start_rate_meters(self) -> None:
        """Read the offered (published) and delivered rates twice a second while producers run (call
        once mounted); with none, the timer sleeps (an app at rest wakes for nothing)."""
        self._rates_timer = self.set_interval(RATE_SAMPLE_SECONDS, self._sample_rates, name="rates")
        self.wake_rate_meters()

    def wake_rate_meters(self) -> None:
        """Producers may run now (one was added, or a new session began)."""
        if self.engine.producers.names:
            self._rates_timer.resume()
        else:
            self._rates_timer.pause()

    def rates(self) -> tuple[float, float] | None:
        """(offered, delivered) msg/s, smoothed; None while this session has no producers."""
        if not self.engine.producers.names:
            return None
        return self._offered.rate, self._delivered.rate

    def reset_rate_meters(self) -> None:
        """A new session: its counters start again from zero."""
        self._offered, self._delivered = RateMeter(), RateMeter()
        self.wake_rate_meters()

    def _sample_rates(self) -> None:
        if not self.engine.producers.names:
            self._rates_timer.pause()  # the last producer went: the status line drops the rates
            self.refresh_status()
            return
        now = time.monotonic()
        self._offered.sample(self.ledger.published, now)
        self._delivered.sample(self.ledger.delivered, now)
        self.refresh_status()

    # -- producers --------------------------------------------------------------------------------
    def action_add_producer(self) -> None:
        """A form for a new producer: name, exchange, rate, keys (weighted or in turn), body."""
        lens_exchange = self.session_screen.lens.exchange

        def added(name: str | None) -> None:
            if name is not None:
                self.notify(f"producer {visible(name)} started", markup=False)
                self.wake_rate_meters()
                self.refresh_status()

        self.push_screen(ProducerForm(self.engine, lens_exchange), added)

    def action_scale_producers(self, factor: float) -> None:
        """Every producer's rate times `factor`, kept within 0.1 to 1000 msg/s (keys + and -)."""
        specs = self.engine.producers.specs()
        if not specs:
            self.notify("no producer runs: add one from the palette (Add producer) or with p", markup=False)
            return
        for name, spec in specs.items():
            rate = min(MAX_RATE, max(MIN_RATE, round(spec.rate * factor, 3)))
            try:
                self.engine.producers.set_rate(name, rate)
            except InputError:
                continue  # removed meanwhile
        rates = ", ".join(f"{visible(n)} {s.rate:g}" for n, s in self.engine.producers.specs().items())
        self.notify(f"producers (msg/s): {rates}", markup=False)

    def action_producer_rate(self, name: str) -> None:
        self.push_screen(RateForm(self.engine, name), lambda _rate: self.refresh_status())

    def action_remove_producer(self, name: str) -> None:
        try:
            self.engine.producers.remove(name)
        except InputError as exc:
            self.notify(visible(str(exc)), severity="warning", markup=False)
            return
        self.notify(f"producer {visible(name)} removed", markup=False)
        self.refresh_status()

    def action_pause_producer(self, name: str) -> None:
        control = self.engine.producers.control(name)
        if control is not None:
            paused = control.toggle_pause()
            self.notify(f"producer {visible(name)} {'paused' if paused else 'resumed'}", markup=False)

    # -- manual consumers -------------------------------------------------------------------------
    def action_toggle_manual(self, name: str | None = None) -> None:
        """Switch a consumer between automatic and manual; manual opens the hand modal."""
        if (target := self._target(name)) is None:
            return
        manual = self.engine.controls[target].manual
        if manual.is_set():
            manual.clear()
            self.notify(f"{visible(target)} is automatic again", markup=False)
            return
        manual.set()
        self.action_hand(target)

    def action_hand(self, name: str | None = None) -> None:
        """Open the hand modal of a manual consumer (the F2-F4 target by default)."""
        if (target := self._target(name)) is None:
            return
        if not self.engine.controls[target].manual.is_set():
            self.notify(f"{visible(target)} is automatic: switch it to manual first", markup=False)
            return
        self.push_screen(HandScreen(self.engine, self.ledger, target))

    def action_add_worker(self, like: str) -> None:
        """Another consumer like `like` (same queues, prefetch, work): the competing-consumers lesson."""
        spec = self.engine.topology.consumer(like)
        if spec is None:
            return
        taken = {c.name for c in self.engine.topology.consumers}
        name = next(f"{like}-{n}" for n in range(2, len(taken) + 3) if f"{like}-{n}" not in taken)
        try:
            self.engine.change_topology(declare(dataclasses.replace(spec, name=name, manual=False)))
        except TopologyError as exc:
            self.notify(visible(str(exc)), severity="error", markup=False)
            return
        self.notify(f"worker {visible(name)} added on {visible(', '.join(spec.queues))}", markup=False)

    def producer_commands(self) -> Iterable[SystemCommand]:
        """Palette entries: add a producer; per producer rate, pause, remove; per consumer manual."""
        yield SystemCommand(
            "Add producer", "a producer that publishes at a rate until removed", self.action_add_producer
        )
        yield SystemCommand(
            "Producers twice as fast", "every producer's rate doubled (+)",
            partial(self.action_scale_producers, 2.0),
        )
        yield SystemCommand(
            "Producers half as fast", "every producer's rate halved (-)",
            partial(self.action_scale_producers, 0.5),
        )
        for name in self.engine.producers.names:
            yield SystemCommand(
                f"Rate of producer {name}",
                "messages a second, 0.1 to 1000",
                partial(self.action_producer_rate, name),
            )
            yield SystemCommand(
                f"Pause/resume producer {name}",
                "stop or restart its messages",
                partial(self.action_pause_producer, name),
            )
            yield SystemCommand(
                f"Remove producer {name}",
                "it stops; what it sent flows on",
                partial(self.action_remove_producer, name),
            )
        for consumer in self.engine.topology.consumers:
            name = consumer.name
            yield SystemCommand(
                f"Manual/automatic {name}",
                "manual: each message waits in its hands until you ack, requeue, reject or drop it",
                partial(self.action_toggle_manual, name),
            )
            yield SystemCommand(
                f"Decide by hand for {name}", "the message it holds: a ack, r requeue, x reject, d drop",
                partial(self.action_hand, name),
            )
            yield SystemCommand(
                f"Add a worker like {name}", "same queues, prefetch and work: competing consumers",
                partial(self.action_add_worker, name),
            )
