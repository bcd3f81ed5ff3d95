"""Producers and manual consumers in the app: palette commands, two small forms and the hand modal.

Producers (core.producers) are added, re-rated, paused and removed through the engine's thread-safe
`Producers`; a manual consumer's decisions go through its ConsumerControl's hand-over. Nothing here
touches the broker: the engine's threads do, and their events come back through the frame.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, Static

from core.controls import MANUAL_ACTIONS
from core.engine import Engine
from core.errors import InputError
from core.ledger import Ledger
from core.producers import MAX_RATE, MIN_RATE, ProducerSpec, keys_from_text, parse_rate
from core.publishing import body_problem
from core.rates import RateMeter
from core.topology import TopologyError
from core.topology_changes import declare
from tui.controls import ControlsApp
from tui.text import ShownText, visible

RATE_SAMPLE_SECONDS = 0.5
"""How often the offered and delivered rates are read while producers run."""
HAND_REFRESH_SECONDS = 0.1
BODY_SHOWN = 300
"""Characters of a held message's body the hand modal shows (the inspector shows the rest)."""

DECISIONS: dict[str, tuple[str, str, str]] = {
    "ack": ("a", "ack", "basic.ack"),
    "requeue": ("r", "requeue", "basic.reject requeue=true: back to its queue, redelivered"),
    "dead_letter": ("x", "reject", "basic.reject requeue=false: to the dead-letter exchange, if any"),
    "drop": ("d", "drop", "basic.ack without processing: discarded, never dead-lettered"),
}
"""Per decision (core.controls.MANUAL_ACTIONS): its key, its word, and the AMQP method it is."""
assert tuple(DECISIONS) == MANUAL_ACTIONS

FORM_CSS = """
    & { align: center middle; }
    & > Vertical {
        width: 84; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    & Input { margin: 0; }
    & .problem { color: $error; height: auto; }
    & .hint { color: $text-muted; }
"""


def _json_field(text: str, what: str) -> Any:
    """A form's JSON field (empty: an empty object); raises InputError with a one-line reason."""
    text = text.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: {exc.msg} at column {exc.colno}") from None
    except (RecursionError, ValueError):
        raise InputError(f"{what}: not usable JSON (nested too deep, or a number too long)") from None
    if (p := body_problem(value, what)) is not None:
        raise InputError(p)
    return value


class ProducerForm(ModalScreen[str | None]):
    """Add a producer: Enter adds it (dismissing with its name), Esc cancels; a refusal shows here."""

    DEFAULT_CSS = "ProducerForm {" + FORM_CSS + "}"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, engine: Engine, exchange: str) -> None:
        super().__init__()
        self.engine = engine
        taken = set(engine.producers.names)
        self.suggested = next(f"producer{n}" for n in range(1, len(taken) + 2) if f"producer{n}" not in taken)
        self.exchange = exchange

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Add a producer (Enter adds, Esc cancels)", "bold"))
            yield Label("name")
            yield Input(self.suggested, id="producer-name")
            yield Label("exchange")
            yield Input(self.exchange, id="producer-exchange")
            yield Label(f"rate (messages a second, {MIN_RATE:g} to {MAX_RATE:g})")
            yield Input("1", id="producer-rate")
            yield Label("routing keys, comma-separated; key:weight draws by weight")
            yield Input(placeholder="video.upload:3, user.login:1", id="producer-keys")
            yield Label("body (JSON, optional)")
            yield Input(placeholder='{"file": "movie.mp4"}', id="producer-body")
            yield Static("", id="producer-problem", classes="problem")

    def on_mount(self) -> None:
        self.query_one("#producer-keys", Input).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#producer-{field}", Input).value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            keys, weighted = keys_from_text(self._value("keys"))
            spec = ProducerSpec(
                name=self._value("name").strip(),
                exchange=self._value("exchange").strip(),
                rate=parse_rate(self._value("rate")),
                keys=keys,
                weighted=weighted,
                bodies=(_json_field(self._value("body"), "body"),),
            )
            self.engine.producers.add(spec, self.engine.topology)
        except InputError as exc:
            self.query_one("#producer-problem", Static).update(ShownText(str(exc)))
            return
        self.dismiss(spec.name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RateForm(ModalScreen[float | None]):
    """Change one producer's rate: Enter applies it, Esc cancels; a refusal shows here."""

    DEFAULT_CSS = "RateForm {" + FORM_CSS + "}"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, engine: Engine, name: str) -> None:
        super().__init__()
        self.engine = engine
        self.producer = name

    def compose(self) -> ComposeResult:
        control = self.engine.producers.control(self.producer)
        current = control.spec.rate if control is not None else 1.0
        with Vertical():
            title = ShownText(f"Rate of producer {self.producer}", "bold")
            title.append(f" (messages a second, {MIN_RATE:g} to {MAX_RATE:g}; Enter sets, Esc cancels)")
            yield Static(title)
            yield Input(f"{current:g}", id="producer-rate")
            yield Static("", id="producer-problem", classes="problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            rate = parse_rate(event.value)
            self.engine.producers.set_rate(self.producer, rate)
        except InputError as exc:
            self.query_one("#producer-problem", Static).update(ShownText(str(exc)))
            return
        self.dismiss(rate)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HandScreen(ModalScreen[None]):
    """You are the consumer: the message a manual consumer holds, and the four things you can do."""

    DEFAULT_CSS = "HandScreen {" + FORM_CSS + "}"
    BINDINGS = [
        Binding("a", "decide('ack')", "Ack"),
        Binding("r", "decide('requeue')", "Requeue"),
        Binding("x", "decide('dead_letter')", "Reject"),
        Binding("d", "decide('drop')", "Drop"),
        Binding("m", "automatic", "Automatic"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self, engine: Engine, ledger: Ledger, consumer: str) -> None:
        super().__init__()
        self.engine, self.ledger, self.consumer = engine, ledger, consumer
        self._shown: str | None = "?"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="hand-message")
            keys = Text()
            for key, word, method in DECISIONS.values():
                keys.append(f"{key} ", "bold")
                keys.append(f"{word}", "bold")
                keys.append(f"  {method}\n", "dim")
            keys.append("m ", "bold")
            keys.append("automatic again   ", "")
            keys.append("Esc ", "bold")
            keys.append("close (messages keep waiting)", "")
            yield Static(keys, classes="hint")

    def on_mount(self) -> None:
        self.show_holding()
        self.set_interval(HAND_REFRESH_SECONDS, self.show_holding)

    @property
    def holding(self) -> str | None:
        control = self.engine.controls.get(self.consumer)
        return control.holding if control is not None else None

    def show_holding(self) -> None:
        msg = self.holding
        if msg == self._shown:
            return
        self._shown = msg
        text = ShownText(f"{self.consumer}", "bold")
        if msg is None:
            text.append(" (manual): waiting for a message to be delivered")
        else:
            record = self.ledger.records.get(msg)
            text.append(" holds ")
            text.append(msg, "bold")
            if record is not None:
                text.append(" ")
                text.append(record.routing_key or '""', "cyan")
                body = json.dumps(record.body, ensure_ascii=False)
                text.append(f"\n{body[:BODY_SHOWN]}" + ("…" if len(body) > BODY_SHOWN else ""))
        self.query_one("#hand-message", Static).update(text)

    def action_decide(self, action: str) -> None:
        control = self.engine.controls.get(self.consumer)
        msg = self.holding
        if control is None or msg is None or not control.decide(msg, action):
            self.notify("no message is waiting for a decision", severity="warning", markup=False)
            return
        self.show_holding()

    def action_automatic(self) -> None:
        control = self.engine.controls.get(self.consumer)
        if control is not None:
            control.manual.clear()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


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
        if self.engine.producers.names:
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
