"""The producer forms: add a producer, change one's rate. Each validates with core's rules and says a
refusal under its fields in one line; nothing is sent from here (the engine's threads do that)."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from core.engine import Engine
from core.errors import InputError
from core.producers import MAX_RATE, MIN_RATE, ProducerSpec, keys_from_text, parse_rate
from core.publishing import body_problem
from tui.text import ShownText

FORM_CSS = """
    & { align: center middle; }
    & > Vertical, & > VerticalScroll {  /* hand_screen.py shares this with a Vertical */
        width: 84; max-width: 100%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    & Input { margin: 0; background: $panel; }
    & Label { color: $text-muted; }
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


def _headers_field(text: str) -> dict[str, Any]:
    """The headers field: a JSON object (empty: none); core's producer check judges its values."""
    value = _json_field(text, "headers")
    if not isinstance(value, dict):
        raise InputError('headers: must be a JSON object, like {"format": "pdf"}')
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
        with VerticalScroll():
            yield Static(Text("Add a producer (Enter adds, Esc cancels)", "bold"))
            yield Label("name")
            yield Input(self.suggested, compact=True, id="producer-name")
            yield Label("exchange")
            yield Input(self.exchange, compact=True, id="producer-exchange")
            yield Label(f"rate (messages a second, {MIN_RATE:g} to {MAX_RATE:g})")
            yield Input("1", compact=True, id="producer-rate")
            yield Label("routing keys, comma-separated; key:weight draws by weight")
            yield Input(placeholder="video.upload:3, user.login:1", compact=True, id="producer-keys")
            yield Label("body (JSON, optional)")
            yield Input(placeholder='{"file": "movie.mp4"}', compact=True, id="producer-body")
            yield Label("headers (a JSON object, optional: what a headers exchange routes by)")
            yield Input(placeholder='{"format": "pdf"}', compact=True, id="producer-headers")
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
                headers=_headers_field(self._value("headers")),
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
        with VerticalScroll():
            title = ShownText(f"Rate of producer {self.producer}", "bold")
            title.append(f" (messages a second, {MIN_RATE:g} to {MAX_RATE:g}; Enter sets, Esc cancels)")
            yield Static(title)
            yield Input(f"{current:g}", compact=True, id="producer-rate")
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


